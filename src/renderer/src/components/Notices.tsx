import type { Notice } from '../captures-state';

export function Notices(props: { notices: Notice[]; onDismiss: (id: number) => void }) {
  if (props.notices.length === 0) return null;
  return (
    <div className="notices" role="status">
      {props.notices.map((notice) => (
        <div key={notice.id} className={`notice notice--${notice.tone}`}>
          <span>{notice.text}</span>
          <button type="button" className="button button--small" onClick={() => props.onDismiss(notice.id)} aria-label="Dismiss">
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
