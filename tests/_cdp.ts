// Internal test helper: drives Debian's headless Chromium over the DevTools protocol (Deno's own
// WebSocket, no npm), for pages whose scripts we await and whose console we read; the tests that
// need it are ignored where `hasChromium` is false.
import { tempDir } from "./_tmp.ts";

const CHROMIUM = "/usr/bin/chromium";

/**
 * Flags giving headless Chromium a WebGPU adapter on a machine without a GPU: Dawn on SwiftShader
 * (adapter info: vendor "google", architecture "swiftshader", a fallback adapter).
 */
export const WEBGPU_ARGS: readonly string[] = ["--enable-unsafe-webgpu"];

/** A page open in headless Chromium. */
export interface ChromiumPage {
  /** Evaluates an expression in the page (awaiting promises), returning its JSON value; a thrown exception becomes an Error with its text. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Polls `expression` every ~200 ms until truthy, returning its value; on timeout throws an Error that includes the page's last console lines. */
  waitFor<T = unknown>(expression: string, timeoutMs: number): Promise<T>;
  /**
   * Gives the file input at `selector` these files (absolute paths; a folder for a
   * `webkitdirectory` input), as a user picking them would; its `change` event fires.
   */
  setInputFiles(selector: string, files: string[]): Promise<void>;
  /** Console messages and uncaught exceptions so far, one line each ("log: ...", "error: ..."). */
  readonly console: string[];
}

export interface ChromiumOptions {
  /** Extra Chromium flags, such as `WEBGPU_ARGS`. */
  args?: readonly string[];
  /** Limit for the whole run: launch, load, and `fn` (default 30 s). */
  timeoutMs?: number;
}

interface RemoteObject {
  type: string;
  value?: unknown;
  unserializableValue?: string;
  description?: string;
}
interface ExceptionDetails {
  text: string;
  url?: string;
  lineNumber?: number;
  exception?: RemoteObject;
}
// deno-lint-ignore no-explicit-any
type Params = any;

/** Opens `url` in a fresh headless Chromium and profile, runs `fn` on the loaded page, cleans up. */
export async function withChromiumPage<T>(
  url: URL | string,
  options: ChromiumOptions,
  fn: (page: ChromiumPage) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const closed = new AbortController();
  const profile = await tempDir("cdp-");
  const child = new Deno.Command(CHROMIUM, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--no-first-run",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      ...options.args ?? [],
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = drainStderr(child.stderr);
  let socket: WebSocket | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`Chromium page timed out after ${timeoutMs} ms: ${url}`));
        closed.abort();
        // Ends any CDP call or launch still waiting, so that `fn` settles too.
        socket?.close();
        kill(child);
      }, timeoutMs);
    });
    timedOut.catch(() => {});
    const run = async () => {
      const endpoint = await stderr.endpoint;
      socket = await connect(endpoint);
      const cdp = new Cdp(socket);
      const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
      const lines: string[] = [];
      cdp.on(sessionId, "Runtime.consoleAPICalled", (p: Params) => {
        lines.push(`${p.type}: ${(p.args as RemoteObject[]).map(format).join(" ")}`);
      });
      cdp.on(sessionId, "Runtime.exceptionThrown", (p: Params) => {
        lines.push(`error: ${exceptionText(p.exceptionDetails)}`);
      });
      cdp.on(sessionId, "Log.entryAdded", ({ entry }: Params) => {
        lines.push(`${entry.level}: ${entry.text}${entry.url ? ` (${entry.url})` : ""}`);
      });
      await cdp.send("Runtime.enable", {}, sessionId);
      await cdp.send("Log.enable", {}, sessionId);
      await cdp.send("Page.enable", {}, sessionId);
      const loaded = cdp.once(sessionId, "Page.loadEventFired");
      loaded.catch(() => {});
      const { errorText } = await cdp.send("Page.navigate", { url: String(url) }, sessionId);
      if (errorText) throw new Error(`Chromium could not open ${url}: ${errorText}`);
      await loaded;
      const evaluate = async <R>(expression: string): Promise<R> => {
        const { result, exceptionDetails } = await cdp.send("Runtime.evaluate", {
          expression,
          awaitPromise: true,
          returnByValue: true,
        }, sessionId);
        if (exceptionDetails) throw new Error(exceptionText(exceptionDetails));
        return result.value as R;
      };
      const waitFor = async <R>(expression: string, waitMs: number): Promise<R> => {
        const deadline = Date.now() + waitMs;
        let last = "";
        while (!closed.signal.aborted) {
          try {
            const value = await evaluate<R>(expression);
            if (value) return value;
            last = `last value: ${JSON.stringify(value)}`;
          } catch (e) {
            if (closed.signal.aborted) throw e;
            last = `last error: ${(e as Error).message}`;
          }
          if (Date.now() >= deadline) break;
          await sleep(Math.min(200, deadline - Date.now()), closed.signal);
        }
        throw new Error(
          `waitFor(${expression}) timed out after ${waitMs} ms (${last}); console:\n` +
            lines.slice(-20).join("\n"),
        );
      };
      const setInputFiles = async (selector: string, files: string[]): Promise<void> => {
        const { result, exceptionDetails } = await cdp.send("Runtime.evaluate", {
          expression: `document.querySelector(${JSON.stringify(selector)})`,
        }, sessionId);
        if (exceptionDetails || !result.objectId) throw new Error(`no element ${selector}`);
        await cdp.send("DOM.setFileInputFiles", { files, objectId: result.objectId }, sessionId);
      };
      return await fn({ evaluate, waitFor, setInputFiles, console: lines });
    };
    return await Promise.race([run(), timedOut]);
  } finally {
    clearTimeout(timer);
    closed.abort();
    await close(child, socket);
    await stderr.end();
    await Deno.remove(profile, { recursive: true });
  }
}

/** Browser.close, then SIGKILL if Chromium lingers; waits for the socket and process to end. */
async function close(child: Deno.ChildProcess, socket: WebSocket | undefined): Promise<void> {
  if (socket?.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ id: 0, method: "Browser.close" }));
  }
  await within(child.status, 5_000);
  kill(child);
  await child.status;
  if (socket && socket.readyState !== WebSocket.CLOSED) {
    const done = new Promise((resolve) => socket.addEventListener("close", resolve));
    socket.close();
    await done;
  }
}

/**
 * Reads all of Chromium's stderr (so that it never blocks), finding the DevTools endpoint; `end`
 * waits for the stream to close, cancelling it if a lingering subprocess holds it open.
 */
function drainStderr(
  stream: ReadableStream<Uint8Array>,
): { endpoint: Promise<string>; end(): Promise<void> } {
  const endpoint = Promise.withResolvers<string>();
  endpoint.promise.catch(() => {});
  const reader = stream.getReader();
  const done = (async () => {
    const decoder = new TextDecoder();
    let text = "";
    let found = false;
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      if (found) continue;
      text += decoder.decode(read.value, { stream: true });
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (match) {
        found = true;
        endpoint.resolve(match[1]);
      }
    }
    // A no-op once resolved.
    endpoint.reject(new Error(`Chromium exited before DevTools listened:\n${text.slice(-2000)}`));
  })();
  return {
    endpoint: endpoint.promise,
    end: async () => {
      if (!await within(done, 5_000)) await reader.cancel();
      await done;
    },
  };
}

function connect(endpoint: string): Promise<WebSocket> {
  const socket = new WebSocket(endpoint);
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve(socket), { once: true });
    socket.addEventListener("error", () => reject(new Error(`cannot connect to ${endpoint}`)), {
      once: true,
    });
  });
}

/** A minimal CDP client: numbered calls, events by session and method. */
class Cdp {
  #next = 1;
  #calls = new Map<number, { resolve(v: Params): void; reject(e: Error): void }>();
  #listeners = new Map<string, ((params: Params) => void)[]>();
  readonly socket: WebSocket;

  constructor(socket: WebSocket) {
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== undefined) {
        const call = this.#calls.get(message.id);
        this.#calls.delete(message.id);
        if (message.error) call?.reject(new Error(`CDP: ${message.error.message}`));
        else call?.resolve(message.result);
      } else {
        for (
          const listener of this.#listeners.get(`${message.sessionId}:${message.method}`) ?? []
        ) {
          listener(message.params);
        }
      }
    });
    socket.addEventListener("close", () => {
      for (const call of this.#calls.values()) call.reject(new Error("Chromium closed"));
      this.#calls.clear();
    });
  }

  send(method: string, params: Params = {}, sessionId?: string): Promise<Params> {
    if (this.socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("Chromium closed"));
    }
    const id = this.#next++;
    this.socket.send(JSON.stringify({ id, method, params, sessionId }));
    return new Promise((resolve, reject) => this.#calls.set(id, { resolve, reject }));
  }

  on(sessionId: string, method: string, listener: (params: Params) => void): void {
    const key = `${sessionId}:${method}`;
    this.#listeners.set(key, [...this.#listeners.get(key) ?? [], listener]);
  }

  once(sessionId: string, method: string): Promise<Params> {
    return new Promise((resolve, reject) => {
      this.on(sessionId, method, resolve);
      this.socket.addEventListener("close", () => reject(new Error("Chromium closed")));
    });
  }
}

function format(object: RemoteObject): string {
  if ("value" in object) {
    return typeof object.value === "string" ? object.value : JSON.stringify(object.value);
  }
  return object.unserializableValue ?? object.description ?? object.type;
}

function exceptionText(details: ExceptionDetails): string {
  const text = details.exception
    ? `${details.text} ${format(details.exception)}`.replace(/^Uncaught (Uncaught )?/, "Uncaught ")
    : details.text;
  return text.split("\n")[0];
}

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = promise.then(() => true, () => true);
  const late = new Promise<boolean>((resolve) => timer = setTimeout(resolve, ms, false));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs `child` unless it has exited. */
function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch { /* it exited already */ }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
