import { Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiParam, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { uuidParam } from '../common/pipes/uuid.pipe.js';
import { DocumentsService } from './documents.service.js';
import { DocumentDto, DocumentPageDto, ListDocumentsQuery, UploadDocumentDto, UploadDocumentQuery } from './dto/document.dto.js';
import { attachmentDisposition, DOCUMENT_TYPES } from './media-type.js';
import { openUpload, uploadError } from './upload-reader.js';

/** The route parameter is a document here, not a conversation as elsewhere. */
const DocumentId = () => ApiParam({ name: 'id', description: 'The document' });

@ApiTags('documents')
@Authenticated()
@Controller('documents')
export class DocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  @Post()
  @ApiOperation({
    operationId: 'uploadDocument',
    summary: 'Upload a document to your library or to a conversation',
    description:
      'multipart/form-data with `file`. To add it to a conversation (members and owner may), give `conversationId` as a query parameter or as a field before the file: it is checked before the file is read, and a `conversationId` field after the file is a 400. The type is detected from the content: text, Markdown, HTML, CSV, JSON, PDF, DOCX, PNG, JPEG, WebP, GIF; anything else is 415. At most DOCUMENT_MAX_BYTES (images IMAGE_MAX_BYTES), else 413. ' +
      'Quotas: your documents (private ones, and your uploads to conversations, also ones you left) at most DOCUMENTS_PER_USER and DOCUMENT_QUOTA_BYTES_PER_USER bytes; ' +
      "a conversation's at most DOCUMENTS_PER_CONVERSATION and DOCUMENT_QUOTA_BYTES_PER_CONVERSATION bytes. An upload that would pass one is a 409 STORAGE_QUOTA_EXCEEDED " +
      '(details: `scope`, `quota`, `used`), before the file is read when it is already full, and nothing of it is kept. ' +
      'At most UPLOADS_PER_USER_AT_ONCE uploads of one user at once (429 with Retry-After beyond); an upload that sends nothing for UPLOAD_IDLE_TIMEOUT_MS is a 408.',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadDocumentDto })
  @ApiCreatedResponse({ type: DocumentDto })
  @ApiErrors(400, 403, 404, 408, 409, 413, 415, 429)
  async upload(
    @CurrentUser() user: AuthUser,
    @Query() query: UploadDocumentQuery,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<DocumentDto> {
    const upload = await openUpload(request, this.documents.maxUploadBytes, query.conversationId).catch((error: unknown) => {
      throw uploadError(error);
    });
    try {
      return await this.documents.upload(user, upload);
    } catch (error) {
      // Refused before the file was read (no access): the rest is not worth reading, the connection
      // goes. Refused part-way (type, size): the rest is read and dropped, so the client gets the answer.
      // Stalled (the stream was destroyed): nothing more will come, the connection goes too.
      if (upload.file.readableDidRead && !upload.file.destroyed) upload.file.resume();
      else reply.header('connection', 'close');
      throw uploadError(error);
    }
  }

  @Get()
  @ApiOperation({
    operationId: 'listDocuments',
    summary: "A conversation's documents, or your private library, newest first",
    description: 'Page on with `cursor` = nextCursor.',
  })
  @ApiOkResponse({ type: DocumentPageDto })
  @ApiErrors(400, 404)
  list(@CurrentUser() user: AuthUser, @Query() query: ListDocumentsQuery): Promise<DocumentPageDto> {
    return this.documents.list(user, query);
  }

  @Get(':id')
  @DocumentId()
  @ApiOperation({ operationId: 'getDocument', summary: 'A document', description: 'A document the caller cannot read is a 404.' })
  @ApiOkResponse({ type: DocumentDto })
  @ApiErrors(400, 404)
  get(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<DocumentDto> {
    return this.documents.get(user, id);
  }

  @Get(':id/content')
  @DocumentId()
  @ApiOperation({ operationId: 'downloadDocument', summary: 'The original bytes of a document, as an attachment',
    description: 'Streamed, with the detected media type. Anyone who may read the document may download it.',
  })
  @ApiOkResponse({
    description: 'The file, with its detected media type',
    headers: { 'Content-Disposition': { description: 'attachment; filename="…"; filename*=UTF-8\'\'…', schema: { type: 'string' }, required: true } },
    content: Object.fromEntries(DOCUMENT_TYPES.map((type) => [type, { schema: { type: 'string', format: 'binary' } }])),
  })
  @ApiErrors(400, 404)
  async content(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<StreamableFile> {
    const { document, stream } = await this.documents.content(user, id);
    return new StreamableFile(stream, { type: document.mediaType, length: document.bytes, disposition: attachmentDisposition(document.filename) });
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @DocumentId()
  @ApiOperation({ operationId: 'deleteDocument', summary: "Delete a document (its uploader, or the conversation's owner)",
    description: 'The bytes go with it. Other participants get 403; a document the caller cannot read is a 404.',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors(400, 403, 404)
  async remove(@CurrentUser() user: AuthUser, @Param('id', uuidParam('id')) id: string): Promise<void> {
    await this.documents.remove(user, id);
  }
}
