export function EmptyState(props: { connected: boolean }) {
  return (
    <section className="empty-state" aria-label="No capture open">
      <h2>Open a capture: File → Open, or drop a pcap/pcapng file here</h2>
      <p className="muted">
        pcap and pcapng files, gzip-compressed or not; a Kubernetes metadata JSON (<code>kubectl get pods,services,endpoints,nodes -A -o json</code>)
        names pods and services. Files are read in place, never uploaded.
      </p>
      {!props.connected && (
        <p className="notice notice--error" role="alert">
          Not connected to a Flowscope engine, so captures cannot be opened from this page.
        </p>
      )}
    </section>
  );
}
