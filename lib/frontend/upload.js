// The Add videos page's uploader (a Streamlit component, v2): pick or drop videos, and each
// goes to the app's tus endpoint (lib/web/uploads.py) with tus-js-client, in chunks that
// resume where they stopped when a phone loses its connection or is locked. A reload lists
// the unfinished uploads this browser remembers; choosing the same file again resumes it.
//
// data: {endpoint, token, header, folder, tusScript, maxBytes}
// triggers: "finished" (an upload id) once a file has arrived whole, so the page shows its job.

const CHUNK_BYTES = 32 * 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000];
const ACCEPT = "video/*,.mov,.mp4,.m4v,.mts,.m2ts,.avi,.mkv,.wmv,.mpg,.mpeg,.3gp,.dv";

let tusLoading = null;

function loadTus(src) {
  // tus-js-client ships a classic script defining window.tus, served by the app itself.
  if (window.tus) return Promise.resolve(window.tus);
  if (!tusLoading) {
    tusLoading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(window.tus);
      script.onerror = () => {
        tusLoading = null;
        reject(new Error("the upload library did not load"));
      };
      document.head.appendChild(script);
    });
  }
  return tusLoading;
}

function formatBytes(bytes) {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawShell(root) {
  root.replaceChildren();
  const zone = element("label", "hm-drop");
  zone.dataset.testid = "hm-drop";
  const input = element("input");
  input.type = "file";
  input.multiple = true;
  input.accept = ACCEPT;
  input.setAttribute("aria-label", "Choose videos");
  zone.append(
    element("span", "hm-drop-title", "Choose videos or drop them here"),
    element("span", "hm-drop-note", "From a phone too; an upload that stops resumes."),
    input,
  );
  const resume = element("div", "hm-resume");
  resume.setAttribute("aria-live", "polite");
  const list = element("ul", "hm-uploads");
  list.setAttribute("aria-label", "Uploads");
  root.append(zone, resume, list);
  return { zone, input, resume, list };
}

class Uploader {
  constructor(root) {
    this.root = root;
    this.parts = drawShell(root);
    this.rows = new Map(); // file key -> {row, upload}
    this.parts.input.addEventListener("change", () => {
      this.add([...this.parts.input.files]);
      this.parts.input.value = "";
    });
    const zone = this.parts.zone;
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("hm-over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("hm-over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("hm-over");
      this.add([...event.dataTransfer.files]);
    });
  }

  configure(data, finished) {
    this.data = data;
    this.finished = finished;
    if (!this.listed) {
      this.listed = true;
      this.listUnfinished();
    }
  }

  headers() {
    return { [this.data.header]: this.data.token };
  }

  async listUnfinished() {
    // What this browser remembers of uploads that did not finish, with how far each got.
    let tus;
    try {
      tus = await loadTus(this.data.tusScript);
    } catch (error) {
      this.parts.resume.textContent = `Uploads cannot start: ${error.message}. Reload the page.`;
      return;
    }
    const storage = tus.defaultOptions.urlStorage;
    const previous = await storage.findAllUploads();
    const lines = [];
    for (const upload of previous) {
      const name = (upload.metadata && upload.metadata.filename) || "a video";
      let offset = null;
      try {
        const answer = await fetch(upload.uploadUrl, {
          method: "HEAD",
          headers: { "Tus-Resumable": "1.0.0", ...this.headers() },
          cache: "no-store",
        });
        if (answer.status === 404 || answer.status === 410) {
          await storage.removeUpload(upload.urlStorageKey);
          continue;
        }
        offset = Number(answer.headers.get("Upload-Offset"));
      } catch (error) {
        offset = null;
      }
      const done = offset !== null && upload.size ? Math.floor((100 * offset) / upload.size) : null;
      lines.push(done === null ? name : `${name} (${done} % sent)`);
    }
    if (lines.length) {
      const note = element("p", "hm-resume-note");
      note.dataset.testid = "hm-unfinished";
      note.textContent =
        `Unfinished: ${lines.join(", ")}. Choose the same file again to resume where it stopped.`;
      this.parts.resume.replaceChildren(note);
    }
  }

  add(files) {
    for (const file of files) this.start(file);
  }

  async start(file) {
    const key = `${file.name}|${file.size}|${file.lastModified}`;
    if (this.rows.has(key) && !this.rows.get(key).over) return; // already going
    const row = this.drawRow(file);
    const entry = { row, upload: null, over: false };
    this.rows.set(key, entry);
    if (this.data.maxBytes && file.size > this.data.maxBytes) {
      this.status(entry, "failed", `Too large: uploads are limited to ${formatBytes(this.data.maxBytes)}.`);
      entry.over = true;
      return;
    }
    let tus;
    try {
      tus = await loadTus(this.data.tusScript);
    } catch (error) {
      this.status(entry, "failed", `Cannot upload: ${error.message}.`);
      entry.over = true;
      return;
    }
    const started = performance.now();
    let startOffset = null;
    const upload = new tus.Upload(file, {
      endpoint: this.data.endpoint,
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS,
      headers: this.headers(),
      metadata: { filename: file.name, filetype: file.type || "", folder: this.data.folder },
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => {
        if (startOffset === null) startOffset = sent;
        const seconds = (performance.now() - started) / 1000;
        const rate = seconds > 0.5 ? (sent - startOffset) / seconds : 0;
        this.progress(entry, sent, total, rate);
      },
      onShouldRetry: (error) => {
        const status = error.originalResponse ? error.originalResponse.getStatus() : 0;
        this.status(entry, "retrying", "Connection lost; trying again…");
        return !(status === 403 || status === 413 || status === 507 || status === 415);
      },
      onError: (error) => {
        entry.over = true;
        this.status(entry, "failed", reason(error));
      },
      onSuccess: () => {
        entry.over = true;
        this.progress(entry, file.size, file.size, 0);
        this.status(entry, "sent", "Arrived; it is converted next (see Jobs below).");
        const id = (upload.url || "").split("/").pop();
        this.clearResumeNote(file.name);
        if (this.finished) this.finished(id);
      },
    });
    entry.upload = upload;
    const previous = await upload.findPreviousUploads();
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
      this.status(entry, "uploading", "Resuming…");
    } else {
      this.status(entry, "uploading", "Starting…");
    }
    upload.start();
  }

  clearResumeNote(name) {
    const note = this.parts.resume.querySelector(".hm-resume-note");
    if (note && note.textContent.includes(name)) note.remove();
  }

  drawRow(file) {
    const row = element("li", "hm-upload");
    row.dataset.testid = "hm-upload";
    row.dataset.file = file.name;
    const name = element("span", "hm-upload-name", file.name);
    const bar = element("progress", "hm-upload-bar");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", `${file.name} sent`);
    const text = element("span", "hm-upload-text", formatBytes(file.size));
    const status = element("span", "hm-upload-status");
    status.setAttribute("role", "status");
    const cancel = element("button", "hm-upload-cancel", "Cancel");
    cancel.type = "button";
    cancel.addEventListener("click", () => {
      const entry = [...this.rows.values()].find((e) => e.row === row);
      if (!entry || !entry.upload || entry.over) return;
      entry.over = true;
      entry.upload.abort(true); // also ends it on the server
      this.status(entry, "cancelled", "Cancelled.");
    });
    row.append(name, bar, text, status, cancel);
    this.parts.list.append(row);
    return row;
  }

  progress(entry, sent, total, rate) {
    const percent = total ? Math.floor((100 * sent) / total) : 100;
    const bar = entry.row.querySelector("progress");
    bar.value = percent;
    entry.row.dataset.percent = String(percent);
    const speed = rate > 0 ? ` · ${formatBytes(rate)}/s` : "";
    entry.row.querySelector(".hm-upload-text").textContent =
      `${percent} % of ${formatBytes(total)}${speed}`;
    if (entry.row.dataset.state === "retrying" || entry.row.dataset.state === "uploading") {
      this.status(entry, "uploading", "Uploading…");
    }
  }

  status(entry, state, text) {
    entry.row.dataset.state = state;
    entry.row.querySelector(".hm-upload-status").textContent = text;
    entry.row.querySelector(".hm-upload-cancel").hidden = !["uploading", "retrying"].includes(state);
  }
}

function reason(error) {
  const response = error && error.originalResponse;
  if (response) {
    const body = (response.getBody() || "").trim();
    if (body && body.length < 300) return body;
    return `The server answered ${response.getStatus()}.`;
  }
  return "The upload stopped; choose the file again to resume.";
}

export default function ({ parentElement, data, setTriggerValue }) {
  const root = parentElement.querySelector(".hm-uploader");
  // Streamlit calls this again on every rerun: uploads under way keep going.
  if (!root.__hmUploader) root.__hmUploader = new Uploader(root);
  root.__hmUploader.configure(data, (id) => setTriggerValue("finished", id));
}
