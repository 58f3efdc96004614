import { ApiProperty } from '@nestjs/swagger';

export class StreamTicketDto {
  @ApiProperty({
    description: 'Pass as `?ticket=` to an SSE endpoint instead of the Authorization header. Good for one use only.',
    example: 'mP1bV7yqkzY3iXn0sWcQ2gJ8rT5uLh4eA6dFo9KjZxE',
    pattern: '^[A-Za-z0-9_-]{43}$',
  })
  ticket!: string;

  @ApiProperty({
    description: 'Seconds left to use it: 60, or less when the access token that asked for it expires sooner',
    example: 60,
    type: 'integer',
  })
  expiresIn!: number;
}
