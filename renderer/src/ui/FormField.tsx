import type { ReactNode } from 'react';
import { FieldError, Input, Label, Text, TextField } from 'react-aria-components';

/**
 * A labelled text input with its own error line. Errors come from the caller (checks in
 * the window, or the service naming this field), never from the browser's own bubbles.
 */
export function FormField({
  label,
  value,
  onChange,
  error,
  description,
  placeholder,
  autoFocus = false,
  type = 'text',
  numeric = false,
  mono = false,
  className,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  description?: ReactNode;
  placeholder?: string;
  autoFocus?: boolean;
  type?: 'text' | 'password';
  numeric?: boolean;
  mono?: boolean;
  className?: string;
}) {
  return (
    <TextField
      className={`form-field${className === undefined ? '' : ` ${className}`}`}
      value={value}
      onChange={onChange}
      isInvalid={error !== undefined}
      autoFocus={autoFocus}
      type={type}
      inputMode={numeric ? 'numeric' : undefined}
      autoComplete="off"
    >
      <Label className="form-label">{label}</Label>
      <Input className={`input${mono ? ' is-mono' : ''}${numeric ? ' num' : ''}`} placeholder={placeholder} spellCheck={false} />
      {description !== undefined && (
        <Text slot="description" className="form-description">
          {description}
        </Text>
      )}
      <FieldError className="field-error">{error}</FieldError>
    </TextField>
  );
}
