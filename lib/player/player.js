// homemovies player: a native <video> for files, hls.js (served by the app) for .hls folders.
// Streamlit calls the default export again whenever `data` changes; the <video> and the
// hls.js instance live on the root element and are rebuilt only when the source changes.

const MAX_NETWORK_RETRIES = 3;
const MAX_MEDIA_RECOVERIES = 2;
const hlsModules = new Map();

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

function teardown(state) {
  if (!state) return;
  state.disposed = true;
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
  state.video.pause();
  state.video.removeAttribute("src");
  state.video.load();
  state.video.remove();
}

function attachHls(state, Hls, url) {
  const hls = new Hls({
    enableWorker: true,
    startPosition: state.start || -1,
    // Fetch the first segment as soon as the playlist is in, not on the next 100 ms tick
    // after the MediaSource opens: about 50 ms sooner to the first frame.
    startFragPrefetch: true,
  });
  let networkRetries = 0;
  let mediaRecoveries = 0;
  hls.on(Hls.Events.ERROR, (_event, info) => {
    if (!info.fatal) return;
    if (info.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < MAX_MEDIA_RECOVERIES) {
      mediaRecoveries += 1;
      hls.recoverMediaError();
    } else if (info.type === Hls.ErrorTypes.NETWORK_ERROR && networkRetries < MAX_NETWORK_RETRIES) {
      networkRetries += 1;
      setTimeout(() => !state.disposed && hls.startLoad(), 1000 * networkRetries);
    } else {
      hls.destroy();
      state.hls = null;
      const broken = info.details && info.details.startsWith("manifest");
      showError(
        state,
        broken
          ? "This video's playlist is missing or broken."
          : "This video stopped loading. Check your connection and try again."
      );
    }
  });
  hls.loadSource(url);
  hls.attachMedia(state.video);
  state.hls = hls;
}

function mount(root, data) {
  root.replaceChildren();
  root.dataset.state = "loading";
  const video = document.createElement("video");
  video.controls = true;
  video.playsInline = true;
  video.preload = "auto";
  video.autoplay = Boolean(data.autoplay);
  video.setAttribute("aria-label", data.title);
  if (data.poster) video.poster = data.poster;
  const error = document.createElement("p");
  error.className = "hm-error";
  error.setAttribute("role", "alert");
  error.hidden = true;
  root.append(video, error);

  const state = { root, video, error, src: data.src, hls: null, disposed: false, start: data.start || 0 };
  video.addEventListener("playing", () => (root.dataset.state = "playing"));
  video.addEventListener("error", () => {
    if (state.hls) return; // hls.js reports its own errors
    showError(state, "This video cannot be played in this browser.");
  });

  const url = new URL(data.src, document.baseURI).href;
  const nativeHls = video.canPlayType("application/vnd.apple.mpegurl") !== "";
  if (data.kind !== "hls") {
    video.src = url;
    if (state.start) video.currentTime = state.start;
  } else {
    loadHls(data.hlsScript)
      .then((Hls) => {
        if (state.disposed) return;
        if (Hls.isSupported()) attachHls(state, Hls, url);
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

export default function ({ parentElement, data }) {
  const root = parentElement.querySelector(".hm-player");
  root.hidden = data.kind === "idle";
  if (data.kind === "idle") {
    // Nothing chosen yet: fetch and compile hls.js now, so the first HLS title starts sooner.
    teardown(root.__hm);
    root.__hm = null;
    if (data.hlsScript) loadHls(data.hlsScript).catch(() => {});
  } else if (!root.__hm || root.__hm.src !== data.src) {
    teardown(root.__hm);
    root.__hm = mount(root, data);
  }
  return () => {
    teardown(root.__hm);
    root.__hm = null;
  };
}
