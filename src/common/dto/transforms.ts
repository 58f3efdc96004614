/** class-transformer `@Transform` helpers shared by DTOs; non-strings pass through for the validators to reject. */
export const trimmed = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
