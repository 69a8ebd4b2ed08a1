// Internal: a Keras/tqdm-like progress bar for training epochs. On a terminal it redraws one line
// in place; elsewhere (CI logs, pipes) it prints a plain line every quarter epoch or 30 s.
import type { EpochLog, StepInfo } from "../mod.ts";

/** Where progress goes. */
export interface ProgressSink {
  isTerminal: boolean;
  write(text: string): void;
}

/** The sink for stdout or stderr. */
export function sinkFor(stream: typeof Deno.stdout | typeof Deno.stderr): ProgressSink {
  const encoder = new TextEncoder();
  return {
    isTerminal: stream.isTerminal(),
    write: (text) => {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
    },
  };
}

/** Seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(sec).padStart(2, "0")}`;
}

const number = (value: number) => Math.round(value).toLocaleString("en-US");

/** Per-epoch progress and summaries. */
export class ProgressBar {
  readonly #sink: ProgressSink;
  readonly #epochs: number;
  #started = 0;
  #lastPlain = 0;
  #lastQuarter = 0;
  #drawn = false;

  constructor(sink: ProgressSink, epochs: number) {
    this.#sink = sink;
    this.#epochs = epochs;
  }

  /** An epoch starts. */
  begin(epoch: number): void {
    this.#started = performance.now();
    this.#lastPlain = this.#started;
    this.#lastQuarter = 0;
    if (!this.#sink.isTerminal) this.#sink.write(`Epoch ${epoch + 1}/${this.#epochs}\n`);
  }

  /** Progress within the epoch. */
  step(info: StepInfo): void {
    const elapsed = (performance.now() - this.#started) / 1000;
    const eta = info.step > 0 ? (elapsed / info.step) * (info.steps - info.step) : NaN;
    const stats = `loss ${info.loss.toFixed(4)}  acc ${(info.accuracy * 100).toFixed(1)}%  ${
      number(info.imagesPerSecond)
    } img/s`;
    if (this.#sink.isTerminal) {
      const width = 24;
      const filled = Math.round((info.step / info.steps) * width);
      const bar = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? ">" : "") +
        ".".repeat(width - filled);
      const line = `Epoch ${info.epoch + 1}/${this.#epochs} ${
        String(info.step).padStart(String(info.steps).length)
      }/${info.steps} [${bar}] ${stats}  ETA ${formatDuration(eta)}`;
      this.#sink.write(`\r${line}\x1b[K`);
      this.#drawn = true;
      return;
    }
    const quarter = Math.floor((info.step / info.steps) * 4);
    const now = performance.now();
    if (info.step < info.steps && (quarter > this.#lastQuarter || now - this.#lastPlain > 30_000)) {
      this.#lastQuarter = quarter;
      this.#lastPlain = now;
      this.#sink.write(
        `  step ${info.step}/${info.steps}  ${stats}  ETA ${formatDuration(eta)}\n`,
      );
    }
  }

  /** The epoch's summary line. */
  end(log: EpochLog, best: boolean): void {
    if (this.#drawn) this.#sink.write("\r\x1b[K");
    this.#drawn = false;
    const val = log.valLoss === undefined
      ? ""
      : `  val_loss ${log.valLoss.toFixed(4)}  val_acc ${
        ((log.valAccuracy ?? 0) * 100).toFixed(1)
      }%`;
    this.#sink.write(
      `Epoch ${log.epoch + 1}/${this.#epochs}: loss ${log.loss.toFixed(4)}  acc ${
        (log.accuracy * 100).toFixed(1)
      }%${val}  lr ${log.lr.toPrecision(3)}  ${number(log.imagesPerSecond)} img/s  ${
        formatDuration(log.seconds)
      }${best ? "  *best" : ""}\n`,
    );
  }

  /** Clears a half-drawn bar before other output. */
  clear(): void {
    if (this.#drawn) this.#sink.write("\r\x1b[K");
    this.#drawn = false;
  }
}
