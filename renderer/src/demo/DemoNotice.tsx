import type { DemoNoticeText } from './demoText.ts';
import './demo-notice.css';

/** A demo explanation at the top of a screen: what works here and what to do when it does not. */
export function DemoNotice({ text, testId }: { text: DemoNoticeText; testId: string }) {
  return (
    <section className={`demo-notice is-${text.tone}`} data-testid={testId} aria-label={text.title}>
      <h2 className="demo-notice-title">{text.title}</h2>
      <p className="demo-notice-body">{text.body}</p>
    </section>
  );
}
