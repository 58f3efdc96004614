import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export const MAX_PAGE_SIZE = 100;
/** Message seqs are 32-bit integers in the database. */
export const MAX_SEQ = 2_147_483_647;

/** Query strings carry text; only well-formed numbers and booleans are converted (the rest fail validation). */
const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value);
const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

/** `?limit=` of a page: 1..100 unless said otherwise. */
export const PageLimit = (defaultSize: number, maximum = MAX_PAGE_SIZE) =>
  applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum, default: defaultSize, description: 'Page size' }),
    IsOptional(),
    Transform(toInt),
    IsInt(),
    Min(1),
    Max(maximum),
  );

/** `?cursor=` of a keyset page: the previous page's nextCursor (opaque; decoded and checked by the service). */
export const PageCursor = () =>
  applyDecorators(ApiPropertyOptional({ maxLength: 200, description: 'nextCursor of the previous page' }), IsOptional(), IsString(), MaxLength(200));

/** A message sequence number in a query string. */
export const SeqQuery = (description: string) =>
  applyDecorators(ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: MAX_SEQ, description }), IsOptional(), Transform(toInt), IsInt(), Min(0), Max(MAX_SEQ));

/** A conversation version in a query string (a bigint in the database, never past 2^53 in practice). */
export const VersionQuery = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description }),
    IsOptional(),
    Transform(toInt),
    IsInt(),
    Min(0),
    Max(Number.MAX_SAFE_INTEGER),
  );

export const BooleanQuery = (description: string) =>
  applyDecorators(ApiPropertyOptional({ description }), IsOptional(), Transform(toBoolean), IsBoolean());
