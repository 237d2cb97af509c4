// Contract between capture sources and the rest of the pipeline.
// Hot path: a source fills one reusable PacketBatch at a time; nothing is allocated per packet.

/** One observation point as the source describes it (pcapng IDB, pcap file, live interface, SLL2 ifindex). */
export interface CaptureInterface {
  /** Index within this capture: pcapng IDB order (across sections: running count), 0 for pcap. */
  index: number;
  name: string;
  description: string;
  /** LINKTYPE_* value (1 Ethernet, 101 RAW, 113 SLL, 276 SLL2, ...). */
  linkType: number;
  snapLen: number;
}

/** A batch of packet records. Arrays and buffer are reused for the next batch: copy what you keep. */
export class PacketBatch {
  count = 0;
  /** Holds the packet bytes; offsets below point into it. */
  buf: Buffer = Buffer.alloc(0);
  offset: Int32Array;
  caplen: Int32Array;
  origLen: Int32Array;
  /** Microseconds since the Unix epoch (integer valued; exact in a double until year 2255). */
  tsUs: Float64Array;
  /** Nanoseconds within the microsecond (0..999), for sources with ns resolution. */
  tsSubUsNs: Int16Array;
  /** Index into the source's interfaces (CaptureInterface.index). */
  ifIndex: Int32Array;
  /** Byte offset of the record (header) in the (decompressed) input, for error messages. */
  fileOffset: Float64Array;
  /** Bytes of the input consumed so far (compressed bytes for gzip) when this batch was filled. */
  bytesRead = 0;

  constructor(readonly capacity = 8192) {
    this.offset = new Int32Array(capacity);
    this.caplen = new Int32Array(capacity);
    this.origLen = new Int32Array(capacity);
    this.tsUs = new Float64Array(capacity);
    this.tsSubUsNs = new Int16Array(capacity);
    this.ifIndex = new Int32Array(capacity);
    this.fileOffset = new Float64Array(capacity);
  }
}

/** Malformed input: where and why. Everything the source delivered before it is good. */
export class CaptureError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${file}: at byte offset ${offset}: ${reason}`);
    this.name = 'CaptureError';
  }
}

/** A pcapng name resolution record: an address and the names the capturing tool knew for it. */
export interface NameRecord {
  ip: string;
  names: string[];
}

/** pcapng interface statistics (ISB) for one interface; the latest block wins. Absent counters are undefined. */
export interface InterfaceStats {
  ifIndex: number;
  /** Time of the statistics block, µs since the epoch. */
  tsUs: number;
  /** Packets received by the interface (isb_ifrecv). */
  ifRecv?: number;
  /** Packets dropped by the interface for lack of resources (isb_ifdrop). */
  ifDrop?: number;
  /** Packets dropped by the OS / capture library (isb_osdrop). */
  osDrop?: number;
}

export interface PacketSource {
  readonly path: string;
  /** 'pcap' | 'pcapng' (plus '+gzip' when compressed); known after the first batch. */
  readonly format: string;
  /** Total bytes of the input as stored (compressed size for gzip); 0 when unknown (stdin, live). */
  readonly totalBytes: number;
  /** Interfaces seen so far; grows as pcapng IDBs are read. Always read it after each batch. */
  readonly interfaces: CaptureInterface[];
  /**
   * Yields batches until end of input. On malformed input it first yields every good packet before the
   * fault, then throws CaptureError. Honours the AbortSignal between batches (throws its reason).
   */
  batches(signal?: AbortSignal): AsyncGenerator<PacketBatch, void, void>;
  /** pcapng NRB entries seen so far (sources without name records leave it undefined). */
  readonly nameRecords?: NameRecord[];
  /** pcapng ISB counters seen so far, one entry per interface. */
  readonly interfaceStats?: InterfaceStats[];
}
