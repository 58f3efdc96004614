import { Body, Controller, Delete, Get, Header, HttpCode, HttpStatus, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentRequest, type RequestMeta } from '../common/http/request-meta.js';
import type { AuthUser } from '../common/auth/auth-user.js';
import { Authenticated, CurrentUser } from '../common/auth/auth.decorators.js';
import { ApiErrors } from '../common/decorators/api-errors.decorator.js';
import { Public } from '../common/decorators/public.decorator.js';
import { UserDto } from '../users/dto/user.dto.js';
import { AuthService } from './auth.service.js';
import { AuthResponseDto, LoginDto, RefreshDto, RegisterDto, UpdateMeDto } from './dto/auth.dto.js';
import { StreamTicketDto } from './dto/stream-ticket.dto.js';
import { RateLimit } from './rate-limit.guard.js';
import { StreamTicketsService } from './stream-tickets.service.js';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly streamTickets: StreamTicketsService,
  ) {}

  @Post('register')
  @Public()
  @RateLimit('register')
  @ApiOperation({
    operationId: 'register',
    summary: 'Create an account and sign in',
    description: 'Emails are compared trimmed and lower-cased. Rate-limited per address (429 with Retry-After).',
  })
  @ApiCreatedResponse({ type: AuthResponseDto })
  @ApiErrors(400, 409, 429)
  register(@Body() body: RegisterDto): Promise<AuthResponseDto> {
    return this.auth.register(body);
  }

  @Post('login')
  @Public()
  @RateLimit('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'login',
    summary: 'Sign in with email and password',
    description:
      'The same 401 for an unknown email and a wrong password. Rate-limited per address and email, and failed sign-ins per address ' +
      'whatever the email (429 with Retry-After, before the password is checked).',
  })
  @ApiOkResponse({ type: AuthResponseDto })
  @ApiErrors(400, 401, 429)
  login(@Body() body: LoginDto, @CurrentRequest() request: RequestMeta): Promise<AuthResponseDto> {
    return this.auth.login(body, request);
  }

  @Post('refresh')
  @Public()
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    operationId: 'refreshTokens',
    summary: 'Exchange a refresh token for a new pair',
    description: 'Refresh tokens are single-use. Presenting one that was already used revokes the whole session.',
  })
  @ApiOkResponse({ type: AuthResponseDto })
  @ApiErrors(400, 401)
  refresh(@Body() body: RefreshDto): Promise<AuthResponseDto> {
    return this.auth.refresh(body.refreshToken);
  }

  @Post('logout')
  @Authenticated()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'logout',
    summary: 'End the session the refresh token belongs to',
    description: "Its access tokens are refused from then on. A refresh token that is not the caller's, or already ended, changes nothing.",
  })
  @ApiNoContentResponse({ description: 'Signed out' })
  logout(@CurrentUser() user: AuthUser, @Body() body: RefreshDto, @CurrentRequest() request: RequestMeta): Promise<void> {
    return this.auth.logout(user, body.refreshToken, request);
  }

  @Post('logout-all')
  @Authenticated()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'logoutAll',
    summary: 'End every session of the caller',
    description:
      'Every access token of the caller is refused (401 SESSION_REVOKED) within a second on every instance, every refresh token ' +
      'is revoked, and open sockets and SSE streams get session:expired and close.',
  })
  @ApiNoContentResponse({ description: 'Every session ended' })
  logoutAll(@CurrentUser() user: AuthUser, @CurrentRequest() request: RequestMeta): Promise<void> {
    return this.auth.logoutAll(user, request);
  }

  @Post('stream-ticket')
  @Authenticated()
  // A credential: no cache on the way may keep it.
  @Header('cache-control', 'no-store')
  @ApiOperation({
    operationId: 'createStreamTicket',
    summary: 'A one-time ticket that opens an SSE stream without an Authorization header (for EventSource)',
    description:
      'Pass it as `?ticket=` to GET /conversations/{id}/events or GET /chat/{id}/stream — no other route reads it. It opens one ' +
      'stream, within `expiresIn` seconds, and speaks for the session of the access token that asked for it: the stream closes ' +
      'with `session:expired` when that session ends, or when that access token would have expired. Rate-limited per user.',
  })
  @ApiCreatedResponse({ type: StreamTicketDto })
  @ApiErrors(429)
  createStreamTicket(@CurrentUser() user: AuthUser): Promise<StreamTicketDto> {
    return this.streamTickets.issue(user);
  }

  @Get('me')
  @Authenticated()
  @ApiOperation({ operationId: 'getCurrentUser', summary: 'The signed-in user', description: 'The profile of the account the access token belongs to.' })
  @ApiOkResponse({ type: UserDto })
  me(@CurrentUser() user: AuthUser): Promise<UserDto> {
    return this.auth.me(user);
  }

  @Patch('me')
  @Authenticated()
  @ApiOperation({
    operationId: 'updateCurrentUser',
    summary: 'Update the display name or the password',
    description: 'A new password requires currentPassword and signs out every other session.',
  })
  @ApiOkResponse({ type: UserDto })
  @ApiErrors(400)
  updateMe(@CurrentUser() user: AuthUser, @Body() body: UpdateMeDto, @CurrentRequest() request: RequestMeta): Promise<UserDto> {
    return this.auth.updateMe(user, body, request);
  }

  @Delete('me')
  @Authenticated()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({
    operationId: 'deleteCurrentUser',
    summary: 'Delete and erase the account',
    description: [
      'Ends every session of the account (its access tokens are refused, its sockets and SSE streams close), then erases the account in one transaction:',
      '- conversations the caller owned alone (no other participant), or had deleted, are deleted with everything in them (messages, runs, tool calls);',
      '- a shared conversation the caller owned passes to its longest-standing remaining participant (members before viewers) and loses its title and system prompt;',
      "- in every conversation, the caller's messages and the agent's replies to them become tombstones (empty content and metadata, deletedAt set, author shown as a deleted user); the runs the caller triggered lose their tool arguments, results and errors, and unfinished ones are cancelled; the agent's rolling summary of those conversations is dropped;",
      '- every document the caller uploaded, to their library or to a conversation that lives on, is deleted with its bytes (as their messages keep nothing of what they wrote);',
      '- the caller leaves every conversation;',
      '- the account keeps only its id and timestamps: no email, name or password;',
      '- the audit events of what the account did stay, without their client address.',
      'The last admin cannot delete their account (409, nothing changes): make another user an admin first.',
      'Other participants receive message:deleted, conversation:updated and lose the conversations that were deleted, as for any other change.',
    ].join('\n'),
  })
  @ApiNoContentResponse({ description: 'The account is erased' })
  @ApiErrors(409)
  deleteMe(@CurrentUser() user: AuthUser, @CurrentRequest() request: RequestMeta): Promise<void> {
    return this.auth.deleteMe(user, request);
  }
}
