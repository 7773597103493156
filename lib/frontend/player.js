// homemovies player: a native <video> for files, hls.js (served by the app) for .hls folders,
// with a small toolbar (speed, quality, subtitles) and keyboard shortcuts while it has focus.
// Streamlit calls the default export again whenever `data` changes; the <video> and the
// hls.js instance live on the root element and are rebuilt only when the source changes.
// On the library page the player also handles clicks on the grid's play buttons: it starts the
// title at once (from `data.offers`) and, once it plays, tells Python, which reruns only the
// player.
// The share page imports this same module and calls the default export itself.
// Below the video a small seek bar of our own shows, where the library index has a seek
// preview, the sprite cell of the time under the pointer; the native controls stay for the
// rest (keys, speed, subtitles, fullscreen, Safari's own HLS). On the library page the module
// also marks the cards of titles this browser cannot decode.

const MAX_NETWORK_RETRIES = 3;
const MAX_MEDIA_RECOVERIES = 2;
const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 2];
const REPORT_EVERY_MS = 5000;
const SEEK_SECONDS = 10;
const TELL_AFTER_MS = 2000; // tell Python of a click by then, even if nothing plays yet
const NO_PICTURE = "This browser cannot show this video's picture (its format needs converting).";
const hlsModules = new Map();
const decodable = new Map(); // "engine mime" -> whether this browser decodes it

function loadHls(url) {
  if (!hlsModules.has(url)) {
    const loading = import(new URL(url, document.baseURI).href).then((m) => m.default);
    loading.catch(() => hlsModules.delete(url)); // let a later play try again
    hlsModules.set(url, loading);
  }
  return hlsModules.get(url);
}

function showError(state, message) {
  state.error.textContent = message;
  state.error.hidden = false;
  state.root.dataset.state = "error";
}

function element(tag, className) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  return made;
}

// The title plays (its sound does) but shows no picture: the browser has no decoder for its
// video codec (HEVC in Chromium without hardware decoding). Paused once, so the viewer reads
// why; playing it again gives the sound alone, which is theirs to choose.
function checkPicture(state) {
  const video = state.video;
  if (state.noPicture || !state.hasPicture || video.videoWidth > 0) return;
  state.noPicture = true;
  video.pause();
  state.error.replaceChildren(Object.assign(element("p"), { textContent: NO_PICTURE }));
  if (state.convert) {
    const how = Object.assign(element("p"), { textContent: "An admin can convert it:" });
    const block = element("pre");
    block.append(Object.assign(element("code"), { textContent: state.convert }));
    state.error.append(how, block);
  }
  state.error.hidden = false;
  state.root.dataset.state = "nopicture";
}

// ----- the seek bar and its preview -----

function knownDuration(video) {
  return Number.isFinite(video.duration) && video.duration > 0 ? video.duration : 0;
}

function clockTime(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const [hours, minutes, rest] = [Math.floor(whole / 3600), Math.floor(whole / 60) % 60, whole % 60];
  const tail = `${String(rest).padStart(2, "0")}`;
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${tail}` : `${minutes}:${tail}`;
}

// "01:02.500" or "00:01:02.500" as seconds (NaN when it is neither).
function vttSeconds(text) {
  const parts = text.trim().split(":");
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => part === "")) return NaN;
  return parts.reduce((total, part) => total * 60 + Number(part), 0);
}

// The cues of a seek-preview map, in time order. Ingest and the indexer write one cue per
// thumbnail, its text naming a cell of a sprite sheet: `sprite.jpg#xywh=X,Y,W,H`, resolved
// against the map's own URL (so the sheet travels under the map's media token).
function parsePreview(text, base) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  if (!/^\uFEFF?WEBVTT(\s|$)/.test(lines[0] || "")) return [];
  const cues = [];
  lines.forEach((line, index) => {
    const times = line.split("-->");
    if (times.length !== 2) return;
    const start = vttSeconds(times[0]);
    const end = vttSeconds(times[1].trim().split(/\s/)[0]); // cue settings may follow
    const cell = /^(.+)#xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)$/.exec((lines[index + 1] || "").trim());
    if (!cell || !(end > start) || Number(cell[4]) === 0 || Number(cell[5]) === 0) return;
    const [x, y, width, height] = cell.slice(2).map(Number);
    cues.push({ start, end, src: new URL(cell[1], base).href, x, y, width, height });
  });
  return cues.sort((a, b) => a.start - b.start);
}

function cueAt(cues, time) {
  let found = null;
  for (const cue of cues) {
    if (cue.start > time) break;
    found = cue;
  }
  return found;
}

function makeScrub() {
  const bar = element("div", "hm-scrub");
  // The native controls' own seek bar stays the one assistive technology and keys use.
  bar.setAttribute("aria-hidden", "true");
  const track = element("div", "hm-scrub-track");
  const buffered = element("div", "hm-scrub-buffered");
  const played = element("div", "hm-scrub-played");
  track.append(buffered, played);
  const preview = element("div", "hm-preview");
  preview.hidden = true;
  const frame = element("div", "hm-preview-frame");
  const image = element("img");
  image.alt = "";
  image.draggable = false;
  frame.append(image);
  const time = element("span", "hm-preview-time");
  preview.append(frame, time);
  bar.append(track, preview);
  return { bar, track, buffered, played, preview, frame, image, time, cues: [], dragging: null, hover: null };
}

function drawProgress(state) {
  const { video, scrub } = state;
  const duration = knownDuration(video);
  const percent = (seconds) => `${duration ? Math.min(100, (seconds / duration) * 100) : 0}%`;
  scrub.played.style.width = percent(scrub.dragging ? scrub.dragging.time : video.currentTime);
  // The buffered range around the playing position (the others would only be noise).
  let [start, end] = [0, 0];
  for (let i = 0; i < video.buffered.length; i++) {
    if (video.buffered.start(i) <= video.currentTime + 0.5 && video.currentTime <= video.buffered.end(i)) {
      [start, end] = [video.buffered.start(i), video.buffered.end(i)];
      break;
    }
  }
  scrub.buffered.style.left = percent(start);
  scrub.buffered.style.width = percent(end - start);
}

// Where on the bar `event` is: its time in the title, and its x from the bar's left edge.
function pointerAt(state, event) {
  const scrub = state.scrub;
  const track = scrub.track.getBoundingClientRect();
  const fraction = Math.min(1, Math.max(0, (event.clientX - track.left) / track.width));
  // Before the video knows its length (HLS: its playlist is still loading) the map's does.
  const duration = knownDuration(state.video) || (scrub.cues.length ? scrub.cues.at(-1).end : 0);
  return { time: fraction * duration, x: event.clientX - scrub.bar.getBoundingClientRect().left, duration };
}

function drawPreview(state, event) {
  const scrub = state.scrub;
  const at = pointerAt(state, event);
  const cue = at.duration ? cueAt(scrub.cues, at.time) : null;
  if (!cue) {
    scrub.preview.hidden = true;
    return;
  }
  if (scrub.image.src !== cue.src) scrub.image.src = cue.src;
  // Style properties set one by one: the share page's policy refuses style attributes.
  scrub.frame.style.width = `${cue.width}px`;
  scrub.frame.style.height = `${cue.height}px`;
  scrub.image.style.left = `${-cue.x}px`;
  scrub.image.style.top = `${-cue.y}px`;
  scrub.preview.dataset.hmCell = `${cue.x},${cue.y}`;
  scrub.preview.dataset.hmTime = at.time.toFixed(2);
  scrub.time.textContent = clockTime(at.time);
  scrub.preview.hidden = false;
  const room = scrub.bar.clientWidth - scrub.preview.offsetWidth;
  scrub.preview.style.left = `${Math.max(0, Math.min(room, at.x - scrub.preview.offsetWidth / 2))}px`;
}

// Fetched once the title plays (or the pointer first comes to the bar), not with it: the
// first frame does not share the link with the map and its sprite sheet.
function loadPreview(state) {
  if (!state.previewUrl || state.previewLoading) return;
  state.previewLoading = true;
  fetch(state.previewUrl, { credentials: "omit" })
    .then((response) => (response.ok ? response.text() : ""))
    .then((text) => {
      if (state.disposed) return;
      const cues = parsePreview(text, state.previewUrl);
      state.scrub.cues = cues;
      if (cues.length) state.scrub.image.src = cues[0].src; // the sheet is ready by the first hover
      if (state.scrub.hover) drawPreview(state, state.scrub.hover);
    })
    .catch(() => {}); // no map, or not one: the bar still seeks, without a preview
}

function seekTo(state, time) {
  if (state.scrub.dragging) state.scrub.dragging.time = time;
  // One seek at a time while dragging (hls.js loads a segment for each); the last one on release.
  if (!state.video.seeking) state.video.currentTime = time;
  drawProgress(state);
}

function attachScrub(state) {
  const { scrub, video } = state;
  const bar = scrub.bar;
  const hide = () => {
    scrub.hover = null;
    scrub.preview.hidden = true;
  };
  bar.addEventListener("pointerenter", (event) => {
    loadPreview(state);
    scrub.hover = event;
    drawPreview(state, event);
  });
  bar.addEventListener("pointermove", (event) => {
    scrub.hover = event;
    if (scrub.dragging) seekTo(state, pointerAt(state, event).time);
    drawPreview(state, event);
  });
  bar.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !knownDuration(video)) return;
    event.preventDefault(); // no text selection, no focus leaving the player
    bar.setPointerCapture(event.pointerId);
    scrub.dragging = { time: video.currentTime };
    scrub.hover = event;
    seekTo(state, pointerAt(state, event).time);
    drawPreview(state, event);
  });
  const release = (event) => {
    if (!scrub.dragging) return;
    const time = pointerAt(state, event).time;
    scrub.dragging = null;
    if (event.type === "pointerup") video.currentTime = time;
    drawProgress(state);
    if (event.pointerType !== "mouse") hide(); // a finger has left: nothing hovers any more
  };
  bar.addEventListener("pointerup", release);
  bar.addEventListener("pointercancel", release);
  bar.addEventListener("pointerleave", () => !scrub.dragging && hide());
  for (const name of ["timeupdate", "progress", "durationchange", "seeking", "emptied"]) {
    video.addEventListener(name, () => drawProgress(state));
  }
}

// Tell the app where playback is (POST to the title's report URL, lib/web/positions.py); the app
// decides what to keep. Not through component state: that reran Python's player fragment each
// time, and the report sent as the user left the page reran it while the next page was drawn.
// `keepalive` lets the last report outlive the page.
function postReport(url, value) {
  fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(value),
    keepalive: true,
    credentials: "omit",
  }).catch(() => {}); // a lost report is replaced by the next one
}

function report(state, force) {
  const video = state.video;
  if (!state.reportUrl || !Number.isFinite(video.duration) || video.duration <= 0) return;
  const position = video.ended ? video.duration : video.currentTime;
  if (!force && Math.abs(position - state.lastReported) < 1) return;
  state.lastReported = position;
  postReport(state.reportUrl, { position: Math.round(position * 10) / 10, duration: video.duration });
}

function teardown(state) {
  if (!state) return;
  report(state, true);
  state.disposed = true;
  clearInterval(state.timer);
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
  state.video.pause();
  state.video.removeAttribute("src");
  state.video.load();
  state.root.removeEventListener("keydown", state.onKey, true);
  state.root.replaceChildren();
}

function makeSelect(label, options, onChange) {
  const wrapper = document.createElement("label");
  wrapper.className = "hm-control";
  const caption = document.createElement("span");
  caption.textContent = label;
  const select = document.createElement("select");
  select.setAttribute("aria-label", label);
  for (const [value, text] of options) select.append(new Option(text, value));
  select.addEventListener("change", () => onChange(select.value));
  wrapper.append(caption, select);
  return { wrapper, select };
}

function addSubtitles(state, tracks) {
  if (!tracks || tracks.length === 0) return;
  state.tracks = tracks.length;
  tracks.forEach((track) => {
    const element = document.createElement("track");
    element.kind = "subtitles";
    element.src = new URL(track.src, document.baseURI).href;
    element.label = track.label;
    if (track.lang) element.srclang = track.lang;
    state.video.append(element);
  });
  const options = [["off", "Off"], ...tracks.map((track, index) => [String(index), track.label])];
  const { wrapper } = makeSelect("Subtitles", options, (value) => {
    Array.from(state.video.textTracks).forEach((textTrack, index) => {
      textTrack.mode = String(index) === value ? "showing" : "disabled";
    });
  });
  state.toolbar.append(wrapper);
}

function levelName(level) {
  if (level.height) return `${level.height}p`;
  return `${Math.round((level.bitrate || 0) / 1000)} kbps`;
}

function addQualityMenu(state, Hls, toolbar) {
  state.hls.on(Hls.Events.MANIFEST_PARSED, (_event, info) => {
    if (state.disposed || !info.levels || info.levels.length < 2) return;
    const ordered = info.levels
      .map((level, index) => [index, level])
      .sort((a, b) => (b[1].height || b[1].bitrate) - (a[1].height || a[1].bitrate));
    const options = [["-1", "Auto"], ...ordered.map(([index, level]) => [String(index), levelName(level)])];
    const { wrapper } = makeSelect("Quality", options, (value) => {
      state.hls.currentLevel = Number(value); // -1 lets hls.js pick again (Auto)
    });
    toolbar.append(wrapper);
  });
}

function toggleFullscreen(state) {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else state.video.requestFullscreen().catch(() => {});
}

// Space, left/right, f and m while focus is anywhere inside the player (not in its menus).
function keyHandler(state) {
  return (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const tag = event.target && event.target.tagName;
    if (tag === "SELECT" || tag === "INPUT" || tag === "BUTTON" || tag === "TEXTAREA") return;
    const video = state.video;
    switch (event.key) {
      case " ":
        if (video.paused) video.play().catch(() => {});
        else video.pause();
        break;
      case "ArrowLeft":
        video.currentTime = Math.max(0, video.currentTime - SEEK_SECONDS);
        break;
      case "ArrowRight":
        video.currentTime = Math.min(video.duration || Infinity, video.currentTime + SEEK_SECONDS);
        break;
      case "f":
      case "F":
        toggleFullscreen(state);
        break;
      case "m":
      case "M":
        video.muted = !video.muted;
        break;
      default:
        return;
    }
    // Captured and stopped here, so the native controls do not act on the same key again.
    event.preventDefault();
    event.stopPropagation();
  };
}

function attachHls(state, Hls, url, toolbar) {
  const hls = new Hls({
    enableWorker: true,
    startPosition: state.start || -1,
    // Fetch the first segment as soon as the playlist is in, not on the next 100 ms tick
    // after the MediaSource opens: about 50 ms sooner to the first frame.
    startFragPrefetch: true,
    // Parse segments as their bytes arrive (fetch streaming): on a slow link the first
    // frame shows once its keyframe is in, not once the whole first segment is.
    progressive: true,
  });
  let networkRetries = 0;
  let mediaRecoveries = 0;
  hls.on(Hls.Events.ERROR, (_event, info) => {
    if (!info.fatal) return;
    // hls.js has already retried the playlist itself; startLoad() would not load it again.
    const broken = Boolean(info.details && info.details.startsWith("manifest"));
    if (broken) {
      hls.destroy();
      state.hls = null;
      showError(state, "This video's playlist is missing or broken.");
    } else if (info.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < MAX_MEDIA_RECOVERIES) {
      mediaRecoveries += 1;
      hls.recoverMediaError();
    } else if (info.type === Hls.ErrorTypes.NETWORK_ERROR && networkRetries < MAX_NETWORK_RETRIES) {
      networkRetries += 1;
      setTimeout(() => !state.disposed && hls.startLoad(), 1000 * networkRetries);
    } else {
      hls.destroy();
      state.hls = null;
      showError(state, "This video stopped loading. Check your connection and try again.");
    }
  });
  state.hls = hls;
  addQualityMenu(state, Hls, toolbar);
  hls.loadSource(url);
  hls.attachMedia(state.video);
}

function mount(root, data) {
  root.replaceChildren();
  root.dataset.state = "loading";
  root.tabIndex = 0;
  root.setAttribute("role", "region");
  root.setAttribute("aria-label", `Player: ${data.title}`);
  const video = document.createElement("video");
  video.controls = true;
  video.playsInline = true;
  video.preload = "auto";
  video.autoplay = Boolean(data.autoplay);
  video.setAttribute("aria-label", data.title);
  if (data.poster) video.poster = new URL(data.poster, document.baseURI).href;
  const toolbar = document.createElement("div");
  toolbar.className = "hm-toolbar";
  const error = document.createElement("div");
  error.className = "hm-error";
  error.setAttribute("role", "alert");
  error.hidden = true;
  const scrub = makeScrub();
  root.append(video, scrub.bar, toolbar, error);

  const state = {
    root,
    video,
    error,
    toolbar,
    scrub,
    previewUrl: data.preview ? new URL(data.preview, document.baseURI).href : "",
    previewLoading: false,
    hasPicture: Boolean(data.hasPicture),
    convert: data.convert || "",
    noPicture: false,
    tracks: 0,
    src: data.src,
    name: data.name || "",
    reportUrl: data.report ? new URL(data.report, document.baseURI).href : "",
    hls: null,
    disposed: false,
    start: data.start || 0,
    lastReported: -1,
    timer: null,
  };
  const speed = makeSelect(
    "Speed",
    SPEEDS.map((rate) => [String(rate), `${rate}×`]),
    (value) => {
      video.playbackRate = Number(value);
      video.defaultPlaybackRate = Number(value);
    }
  );
  speed.select.value = "1";
  toolbar.append(speed.wrapper);
  addSubtitles(state, data.subtitles);

  state.onKey = keyHandler(state);
  root.addEventListener("keydown", state.onKey, true);
  attachScrub(state);
  video.addEventListener("playing", () => {
    if (!state.noPicture) root.dataset.state = "playing";
    checkPicture(state);
    loadPreview(state);
  });
  video.addEventListener("timeupdate", () => video.currentTime > 0 && checkPicture(state));
  video.addEventListener("pause", () => !video.seeking && report(state, false));
  video.addEventListener("ended", () => report(state, true));
  state.timer = setInterval(() => !video.paused && report(state, false), REPORT_EVERY_MS);
  video.addEventListener("error", () => {
    if (state.hls) return; // hls.js reports its own errors
    showError(state, "This video cannot be played in this browser.");
  });

  const url = new URL(data.src, document.baseURI).href;
  const nativeHls = video.canPlayType("application/vnd.apple.mpegurl") !== "";
  if (data.kind !== "hls") {
    if (state.start) {
      video.addEventListener(
        "loadedmetadata",
        () => {
          if (state.start < video.duration) video.currentTime = state.start;
        },
        { once: true }
      );
    }
    video.src = url;
  } else {
    loadHls(data.hlsScript)
      .then((Hls) => {
        if (state.disposed) return;
        if (Hls.isSupported()) attachHls(state, Hls, url, toolbar);
        else if (nativeHls) video.src = url;
        else showError(state, "This browser cannot play HLS video.");
      })
      .catch(() => {
        if (state.disposed) return;
        if (nativeHls) video.src = url;
        else showError(state, "The HLS player could not be loaded.");
      });
  }
  return state;
}

// Call `tell` once the title `state` plays has its first frame (or fails, or takes long).
// Python's run and the page's redraw would otherwise share the CPU with the title's start:
// on two cores that doubled the time to the first frame (bench.first_frame). Not after the
// player has gone (another title, another page): a late run would draw over what replaced it.
function onceStarted(state, tell) {
  let told = false;
  const once = () => {
    if (told) return;
    told = true;
    if (!state.disposed && state.root.isConnected) tell();
  };
  state.video.addEventListener("playing", once, { once: true });
  state.video.addEventListener("error", once, { once: true });
  setTimeout(once, TELL_AFTER_MS);
}

// The page's play buttons (lib/ui/grid.py) carry their title's object name in `data-hm-play`.
function convertButton(event) {
  return event.target instanceof Element
    ? event.target.closest("button[data-hm-convert]")
    : null;
}

function playButton(event) {
  return event.target instanceof Element ? event.target.closest("button[data-hm-play]") : null;
}

// Play `data` unless its source is playing already.
function show(root, data) {
  const playing = root.__hm;
  if (playing && playing.src === data.src) {
    // Its subtitles may be known only now (an HLS folder is listed when a title is opened).
    if (playing.tracks === 0) addSubtitles(playing, data.subtitles);
    return;
  }
  // A renewed link to the same title (tokens are reissued after half their life): carry on
  // from where it is rather than from where it was opened.
  const sameTitle = playing && data.name && playing.name === data.name;
  const start = sameTitle ? playing.video.currentTime : data.start;
  teardown(playing);
  root.hidden = false;
  root.__hm = mount(root, { ...data, start });
  if (!sameTitle && data.autoplay) root.scrollIntoView({ block: "nearest" });
}

// The grid's play buttons ignore the pointer until a player listens for them (GRID_STYLE in
// lib/ui/grid.py). A redrawn player may mount before the one it replaces is cleaned up, so the
// page counts the players listening rather than trusting the last one to leave.
function listening(root, on) {
  const players = (window.__hmPlayers ??= new Set());
  if (on) players.add(root);
  else players.delete(root);
  if (players.size > 0) document.documentElement.dataset.hmPlayer = "ready";
  else delete document.documentElement.dataset.hmPlayer;
}

// ----- cards this browser cannot play -----

// Whether this browser decodes `mime` the way the card's title is played (lib/ui/grid.py): a
// file by the <video> element itself; an HLS title through Media Source, as hls.js does
// (preferring ManagedMediaSource, as it does), or by the element's own HLS where there is none.
function decodes(mime, engine) {
  const key = `${engine} ${mime}`;
  if (!decodable.has(key)) {
    const video = document.createElement("video");
    const Source = window.ManagedMediaSource || window.MediaSource;
    let answer;
    if (engine !== "mse") answer = video.canPlayType(mime) !== "";
    else if (Source) answer = Source.isTypeSupported(mime);
    else answer = video.canPlayType("application/vnd.apple.mpegurl") !== "" && video.canPlayType(mime) !== "";
    decodable.set(key, answer);
  }
  return decodable.get(key);
}

// Posters (lib/ui/grid.py) name their image in `data-hm-src`: it is requested once the browser
// is idle after drawing, so a screenful of posters does not slow the page becoming usable.
const whenIdle = window.requestIdleCallback
  ? (work) => window.requestIdleCallback(work, { timeout: 300 })
  : (work) => setTimeout(work, 50);

function loadPosters() {
  const waiting = Array.from(document.querySelectorAll("img[data-hm-src]:not([src])"));
  if (waiting.length === 0) return;
  whenIdle(() => {
    for (const img of waiting) if (!img.getAttribute("src")) img.src = img.dataset.hmSrc;
  });
}

function markCards() {
  loadPosters();
  for (const card of document.querySelectorAll(".hm-card[data-hm-mime]:not([data-hm-checked])")) {
    card.dataset.hmChecked = "";
    if (decodes(card.dataset.hmMime, card.dataset.hmEngine)) continue;
    card.dataset.hmUnsupported = "";
    for (const note of card.querySelectorAll(".hm-maynot, .hm-maynot-admin")) note.hidden = false;
  }
}

// Streamlit draws the cards anew whenever it likes (tabs, pages, search): one observer for the
// whole page marks the new ones, at most once a frame however many changes a run makes.
function watchCards() {
  if (window.__hmCardWatch) return;
  window.__hmCardWatch = true;
  let queued = false;
  const queue = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      markCards();
    });
  };
  new MutationObserver(queue).observe(document.body, { childList: true, subtree: true });
  queue();
}

export default function ({ parentElement, data, setTriggerValue }) {
  const root = parentElement.querySelector(".hm-player");
  if (setTriggerValue) watchCards(); // the library page (the share page has no cards)
  root.__hmOffers = data.offers || {};
  root.__hmOpen = setTriggerValue ? (name) => setTriggerValue("open", name) : null;
  root.__hmConvert = setTriggerValue ? (name) => setTriggerValue("convert", name) : null;
  if (!root.__hmOnClick) {
    // A click on a play button starts the title here at once, then tells Python, whose run
    // (of the player's fragment only) records the choice, draws the title's name and finds
    // the player already playing it.
    root.__hmOnClick = (event) => {
      const convert = convertButton(event);
      if (convert && root.__hmConvert) {
        // An admin's Convert offer on a card: Python queues the job and says so.
        convert.disabled = true;
        convert.textContent = "Queued";
        root.__hmConvert(convert.dataset.hmConvert);
        return;
      }
      const button = playButton(event);
      if (!button || !root.__hmOpen) return;
      const name = button.dataset.hmPlay;
      const offered = root.__hmOffers[name];
      if (!offered) {
        root.__hmOpen(name); // Python decides what an unknown name opens (nothing, if unlisted)
        return;
      }
      show(root, offered);
      onceStarted(root.__hm, () => root.__hmOpen(name));
    };
    document.addEventListener("click", root.__hmOnClick);
    listening(root, true);
  }
  // Streamlit may draw the player anew on this same element before it cleans up the previous
  // drawing: only an element that has left the page is torn down, or the new drawing would
  // lose its video and its click listener.
  const cleanup = () => {
    setTimeout(() => {
      if (root.isConnected) return;
      document.removeEventListener("click", root.__hmOnClick);
      listening(root, false);
      root.__hmOnClick = null;
      teardown(root.__hm);
      root.__hm = null;
    }, 0);
  };
  if (data.kind === "idle") {
    // Nothing chosen: stay hidden, and fetch and compile hls.js now so HLS titles start sooner.
    teardown(root.__hm);
    root.__hm = null;
    root.hidden = true;
    if (data.hlsScript) loadHls(data.hlsScript).catch(() => {});
  } else {
    show(root, data);
  }
  return cleanup;
}
