/** An honest placeholder: says what is missing and why, and shows no invented data. */
export function NotBuiltScreen({ title, line }: { title: string; line: string }) {
  return (
    <div className="screen not-built-screen">
      <header className="screen-header">
        <h1>{title}</h1>
      </header>
      <p className="not-built" data-testid="not-built">
        {line}
      </p>
    </div>
  );
}
