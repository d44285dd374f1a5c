// The review player: two versions of a shot played in sync under one transport (side by side, wipe,
// overlay, difference), the hook-up (the shot before, this shot, the shot after, in the cut's order),
// and the keys J/K/L, ←/→ and space. Its data comes from /shots/<path>/playback.json and hookup.json.
// Frame i of a media is shown at start + (i + 0.5) / fps: the middle of the frame, never its edge.
"use strict";
(function () {
  const MAX_RATE = 4;
  const PLAY_WIDTH = 960;  // stored frames are played scaled (quick to send); the stills panels below show them exact
  const cache = new Map();  // digest → Image: stored frames asked for once, so a sequence plays without gaps

  function frameOf(media, time) { return Math.floor((time - media.start) * media.fps + 1e-3); }
  function timeOf(media, index) { return media.start + (index + 0.5) / media.fps; }
  function frameUrl(digest) { return digest ? `/frames/${digest}.png?width=${PLAY_WIDTH}` : null; }

  function preload(digests, from, count) {
    for (let i = Math.max(0, from); i < Math.min(digests.length, from + count); i++) {
      const digest = digests[i];
      if (digest && !cache.has(digest)) {
        const image = new Image();
        image.src = frameUrl(digest);
        cache.set(digest, image);
      }
    }
  }

  function getJson(url) {
    return fetch(url, {credentials: "same-origin", headers: {accept: "application/json"}}).then((response) =>
      response.json().then((body) => (response.ok ? body : Promise.reject(new Error(body.detail || response.statusText)))));
  }

  function element(tag, className, text) {
    const made = document.createElement(tag);
    if (className) made.className = className;
    if (text !== undefined) made.textContent = text;
    return made;
  }

  // ------------------------------------------------------------------ a track: one version in one pane

  // A <video> of the version's file (seeked within the shot's part of an episode file), an <img>
  // stepping through its stored frames, or a line saying there is nothing to show.
  class Track {
    constructor(view, media, testid) {
      this.media = media;
      this.frames = media.kind === "none" ? 0 : media.frames;
      this.shown = 0;
      this.pending = null;
      this.queued = null;
      view.replaceChildren();
      if (media.kind === "video") {
        const video = element("video", "track-video");
        video.setAttribute("data-testid", testid);
        video.muted = true;
        video.preload = "auto";
        video.playsInline = true;
        video.addEventListener("loadedmetadata", () => { if (this.pending !== null) this.seek(this.pending); });
        // Seeks asked for while one is under way wait for it to land, and only the last one is made:
        // a burst of frame steps then costs one decode, not one aborted decode each.
        video.addEventListener("seeked", () => {
          if (this.queued === null) return;
          const time = this.queued;
          this.queued = null;
          if (Math.abs(video.currentTime - time) > 1e-6) video.currentTime = time;
        });
        video.src = media.src;
        this.video = video;
        view.append(video);
      } else if (media.kind === "frames") {
        this.img = element("img", "track-frame");
        this.img.setAttribute("data-testid", testid);
        view.append(this.img);
        preload(media.digests, 0, 24);
      } else {
        view.append(element("p", "track-none", media.note));
      }
    }

    clamp(index) { return Math.max(0, Math.min(index, this.frames - 1)); }

    // `exact`: seek even when the time already reads right (just after a pause it may not be up to date).
    seek(index, exact) {
      if (!this.frames) return;
      const i = this.clamp(index);
      this.shown = i;
      if (this.video) {
        if (this.video.readyState < 1) { this.pending = i; return; }
        this.pending = null;
        const time = timeOf(this.media, i);
        if (this.video.seeking) { this.queued = time; return; }
        this.queued = null;
        if (exact || Math.abs(this.video.currentTime - time) > 1e-6) this.video.currentTime = time;
      } else if (this.img) {
        const src = frameUrl(this.media.digests[i]);
        this.img.hidden = !src;
        if (src && this.img.getAttribute("src") !== src) this.img.src = src;
        this.img.alt = src ? `frame ${i}` : `frame ${i} was not rendered in this version`;
        preload(this.media.digests, i + 1, 12);
      }
    }

    // The frame the video shows now, unclamped: past the shot's end when an episode file plays on.
    rawFrame() {
      if (this.video && this.video.readyState >= 1 && this.pending === null) return frameOf(this.media, this.video.currentTime);
      return this.shown;
    }

    play(rate) {
      if (!this.video) return;
      this.video.playbackRate = rate;
      this.video.play().catch(() => {});  // a pause before it started rejects: nothing to do
    }

    pause() { if (this.video) this.video.pause(); }
  }

  // ------------------------------------------------------------------ sources the transport drives

  // A and B kept on one frame: the longer video plays and leads; the other video is put back on the
  // leader's time whenever it drifts by more than half a frame; stored frames follow the leader's frame.
  class PairSource {
    constructor(tracks) { this.tracks = tracks.filter((track) => track.frames > 0); }

    get frames() { return Math.max(0, ...this.tracks.map((track) => track.frames)); }

    get videos() { return this.tracks.filter((track) => track.video); }

    seek(index, exact) { for (const track of this.tracks) track.seek(index, exact); }

    nativeStart(index, rate) {
      const videos = this.videos.sort((one, other) => other.frames - one.frames);
      if (!videos.length || videos.some((track) => track.video.readyState < 1)) return false;
      this.leader = videos[0];
      this.seek(index);
      for (const track of videos) track.play(rate);
      this.rate = rate;
      return true;
    }

    setRate(rate) {
      this.rate = rate;
      for (const track of this.videos) track.video.playbackRate = rate;
    }

    nativeFrame() { return this.leader.rawFrame(); }

    follow(index) {
      const elapsed = this.leader.video.currentTime - this.leader.media.start;
      for (const track of this.tracks) {
        if (track === this.leader) continue;
        if (!track.video) { track.seek(index); continue; }
        const video = track.video;
        if (index >= track.frames - 1) { video.pause(); continue; }  // a shorter version holds its last frame
        const want = track.media.start + elapsed;
        if (!video.seeking && Math.abs(video.currentTime - want) > 0.5 / track.media.fps) video.currentTime = want;
        if (video.paused) track.play(this.rate);
      }
    }

    nativeStop() { for (const track of this.videos) track.pause(); }
  }

  // The hook-up's shots one after another: one <video> (kept playing across shots that follow each
  // other in one episode file) and one <img> for a shot that only has stored frames.
  class SequenceSource {
    constructor(root, places, onPlace) {
      this.video = root.querySelector(".hookup-video");
      this.img = root.querySelector(".hookup-frame");
      this.places = places;
      this.onPlace = onPlace;
      this.offsets = [];
      let total = 0;
      for (const place of places) { this.offsets.push(total); total += place.media.frames; }
      this.total = total;
      this.k = -1;
      this.pending = null;
      this.playing = false;
      this.rate = 1;
      this.video.addEventListener("loadedmetadata", () => {
        if (this.pending === null) return;
        this.video.currentTime = timeOf(this.media, this.pending);
        this.pending = null;
        if (this.playing) this.video.play().catch(() => {});
      });
    }

    get frames() { return this.total; }

    get media() { return this.places[this.k].media; }

    locate(index) {
      let k = this.places.length - 1;
      while (k > 0 && this.offsets[k] > index) k--;
      return {k, local: index - this.offsets[k]};
    }

    use(k) {
      if (k === this.k) return;
      this.k = k;
      const media = this.media;
      this.video.hidden = media.kind !== "video";
      this.img.hidden = media.kind !== "frames";
      if (media.kind === "video") {
        this.video.playbackRate = this.rate;
        if (this.video.getAttribute("src") !== media.src) { this.video.src = media.src; this.pending = 0; }
      } else {
        this.video.pause();
      }
      this.onPlace(this.places[k]);
    }

    seek(index, exact) {
      const {k, local} = this.locate(index);
      this.use(k);
      this.showLocal(local, exact);
    }

    showLocal(local, exact) {
      const media = this.media;
      if (media.kind === "video") {
        if (this.pending !== null || this.video.readyState < 1) { this.pending = local; return; }
        const time = timeOf(media, local);
        if (exact || Math.abs(this.video.currentTime - time) > 1e-6) this.video.currentTime = time;
      } else {
        const src = frameUrl(media.digests[local]);
        if (src && this.img.getAttribute("src") !== src) this.img.src = src;
        preload(media.digests, local + 1, 12);
      }
    }

    nativeStart(index, rate) {
      this.rate = rate;
      this.playing = true;
      this.seek(index);
      this.startPlace(this.locate(index).local);
      return true;
    }

    startPlace(local) {
      if (this.media.kind === "video") {
        this.video.playbackRate = this.rate;
        if (this.pending === null) this.video.play().catch(() => {});
      }
      this.clock = {local, at: performance.now()};  // stored frames play on this clock
    }

    setRate(rate) {
      this.rate = rate;
      this.video.playbackRate = rate;
      if (this.clock) this.clock = {local: this.localNow(), at: performance.now()};
    }

    localNow() {
      const media = this.media;
      if (media.kind === "video") {
        if (this.pending !== null || this.video.readyState < 1) return this.pending || 0;
        return frameOf(media, this.video.currentTime);
      }
      return this.clock.local + Math.floor((performance.now() - this.clock.at) / 1000 * media.fps * this.rate);
    }

    // The sequence's frame now, moving on to the next shot once this one's last frame has had its time.
    nativeFrame() {
      let local = Math.max(0, this.localNow());
      const place = this.places[this.k];
      if (local >= place.media.frames && this.k < this.places.length - 1) {
        const next = this.places[this.k + 1].media;
        const joined = place.media.kind === "video" && next.kind === "video" && next.src === place.media.src
          && Math.abs(next.start - place.media.end) < 1e-3;  // the next shot follows in the same file: play on
        if (!joined) this.video.pause();
        this.use(this.k + 1);
        local = joined ? Math.max(0, this.localNow()) : 0;
        if (!joined) { this.showLocal(0); this.startPlace(0); }
      }
      if (this.media.kind === "frames") this.showLocal(Math.min(local, this.media.frames - 1));
      return this.offsets[this.k] + local;
    }

    follow() {}

    nativeStop() {
      this.playing = false;
      this.video.pause();
    }

    describe(index) {
      const {k, local} = this.locate(index);
      const place = this.places[k];
      return `${ROLE_NAMES[place.role]} · ${place.shot} · frame ${local} / ${place.media.frames}`;
    }
  }

  // ------------------------------------------------------------------ the transport

  // Play forward (the videos play and the source keeps them together), play backward or play stored
  // frames (a clock picks the frame and every track is sought to it), pause (every track sought to
  // the one frame shown), step, scrub. `hooks.shown(frame, playing)` hears every frame shown,
  // `hooks.settled(frame)` every frame it stops on.
  class Transport {
    constructor(panel, hooks) {
      const bar = panel.querySelector(".transport");
      this.panel = panel;
      this.hooks = hooks;
      this.button = bar.querySelector('[data-act="toggle"]');
      this.scrub = bar.querySelector(".scrub");
      this.label = bar.querySelector(".transport-frame");
      this.loopBox = bar.querySelector(".loop");
      this.dir = 0;
      this.rate = 1;
      this.frame = 0;
      this.native = false;
      this.raf = null;
      this.source = null;
      this.button.addEventListener("click", () => this.toggle());
      bar.querySelector('[data-act="back"]').addEventListener("click", () => this.step(-1));
      bar.querySelector('[data-act="forward"]').addEventListener("click", () => this.step(1));
      this.scrub.addEventListener("input", () => { this.halt(); this.seek(Number(this.scrub.value)); });
    }

    get frames() { return this.source ? this.source.frames : 0; }

    setSource(source, fps) {
      this.halt();
      this.source = source;
      this.fps = fps;
      this.seek(this.frame);
    }

    clamp(index) { return Math.max(0, Math.min(index, this.frames - 1)); }

    play(dir, rate) {
      if (!this.frames) return;
      if (this.native && dir > 0 && this.dir > 0) {  // faster or slower, still forward: the videos carry on
        this.rate = rate;
        this.source.setRate(rate);
        this.show();
        return;
      }
      this.halt();
      if (dir > 0 && this.frame >= this.frames - 1) this.frame = 0;
      if (dir < 0 && this.frame <= 0) this.frame = this.frames - 1;
      this.dir = dir;
      this.rate = rate;
      this.native = dir > 0 && this.source.nativeStart(this.frame, rate);
      this.origin = {frame: this.frame, at: performance.now()};
      this.show();
      this.loop();
    }

    loop() { this.raf = requestAnimationFrame(() => this.tick()); }

    tick() {
      this.raf = null;
      let frame = this.native ? this.source.nativeFrame()
        : this.origin.frame + this.dir * Math.floor((performance.now() - this.origin.at) / 1000 * this.fps * this.rate);
      const last = this.frames - 1;
      if (this.dir > 0 ? frame >= last : frame <= 0) {
        this.frame = this.dir > 0 ? last : 0;
        if (this.loopBox.checked) {
          const dir = this.dir, rate = this.rate;
          this.halt();
          this.frame = dir > 0 ? 0 : last;
          this.play(dir, rate);
        } else {
          this.pause();
        }
        return;
      }
      frame = Math.max(0, frame);
      if (this.native) this.source.follow(frame);
      else if (frame !== this.frame) this.source.seek(frame);
      if (frame !== this.frame) { this.frame = frame; this.show(); }
      this.loop();
    }

    // Stop moving without settling (a new play, a scrub or a new source follows at once).
    halt() {
      if (this.raf !== null) cancelAnimationFrame(this.raf);
      this.raf = null;
      if (this.native) {
        const frame = this.source.nativeFrame();
        this.source.nativeStop();
        this.frame = this.clamp(frame);
      }
      this.native = false;
      this.dir = 0;
    }

    pause() {
      this.halt();
      this.seek(this.frame, true);
    }

    seek(index, exact) {
      if (this.dir) this.halt();
      this.frame = this.clamp(index);
      if (this.source && this.frames) this.source.seek(this.frame, exact);
      this.show();
      this.hooks.settled(this.frame);
    }

    step(by) {
      this.halt();
      this.seek(this.frame + by);
    }

    toggle() { if (this.dir) this.pause(); else this.play(1, 1); }

    forward() { this.play(1, this.dir > 0 ? Math.min(this.rate * 2, MAX_RATE) : 1); }  // L: play, again: faster

    backward() { this.play(-1, this.dir < 0 ? Math.min(this.rate * 2, MAX_RATE) : 1); }  // J: back, again: faster

    show() {
      const frames = this.frames;
      const where = this.source && this.source.describe && frames ? this.source.describe(this.frame)
        : `frame ${this.frame} / ${frames}`;
      const speed = this.dir ? ` · ${this.dir < 0 ? "◀ " : ""}${this.rate}×` : "";
      this.label.textContent = where + speed;
      this.scrub.max = String(Math.max(0, frames - 1));
      this.scrub.value = String(this.frame);
      this.button.textContent = this.dir ? "Pause" : "Play";
      this.panel.dataset.frame = String(this.frame);
      this.panel.dataset.state = this.dir > 0 ? "playing" : this.dir < 0 ? "reverse" : "paused";
      this.panel.dataset.rate = String(this.rate);
      this.hooks.shown(this.frame, Boolean(this.dir));
    }
  }

  // ------------------------------------------------------------------ the A/B player

  function abPlayer(panel) {
    const stage = panel.querySelector(".player-stage");
    const selectA = panel.querySelector("#player-a"), selectB = panel.querySelector("#player-b");
    const viewA = stage.querySelector(".pane.a .pane-view"), viewB = stage.querySelector(".pane.b .pane-view");
    const labelA = stage.querySelector(".pane.a .pane-label"), labelB = stage.querySelector(".pane.b .pane-label");
    const diffLayer = panel.querySelector("#player-diff"), diffNote = panel.querySelector("#difference-note");
    const wipeAt = panel.querySelector("#wipe-at"), opacity = panel.querySelector("#overlay-opacity");
    const note = panel.querySelector("#player-note");
    const stills = {a: document.getElementById("ab-a"), b: document.getElementById("ab-b")};  // the stored-frames A/B
    let byKey = new Map(), single = false, asked = 0;
    let loading = true;  // (re)loading the tracks is not a stop the stills below should jump to

    const transport = new Transport(panel, {shown: (frame) => exactLayer(frame), settled: (frame) => settled(frame)});

    function versions() { return {a: byKey.get(selectA.value), b: byKey.get(single ? selectA.value : selectB.value)}; }

    function digests(frame) {
      const {a, b} = versions();
      return {a: a && a.media.digests[frame], b: b && b.media.digests[frame]};
    }

    // Stills on both sides: the difference mode shows the studio's exact difference image of the stored frames.
    function exactLayer(frame) {
      const {a, b} = digests(frame);
      const src = stage.dataset.exact === "true" && a && b ? `/diff/${a}/${b}.png` : null;
      diffLayer.hidden = !src;
      if (src && diffLayer.getAttribute("src") !== src) diffLayer.src = src;
    }

    function settled(frame) {
      const {a, b} = versions();
      if (!loading) {
        document.body.dispatchEvent(new CustomEvent("reelforge:frame",
          {detail: {index: frame, a: a && a.key, b: b && b.key}}));
      }
      if (stage.dataset.mode === "difference") exactSummary(frame);
    }

    // Paused in difference mode: what the stored frames say, exactly (a video's blend shows its compression too).
    function exactSummary(frame) {
      const {a, b} = digests(frame);
      const ticket = ++asked;
      if (single) { diffNote.textContent = "One version only: nothing to difference."; return; }
      if (!a || !b) { diffNote.textContent = `Frame ${frame}: ${a ? "B" : "A"} has no stored frame to compare.`; return; }
      diffNote.textContent = `Frame ${frame}: comparing the stored frames…`;
      getJson(`/diff/${a}/${b}.json`).then((stats) => {
        if (ticket === asked) diffNote.textContent = `Frame ${frame}, stored frames: ${stats.summary}. Black = the same.`;
      }).catch((error) => { if (ticket === asked) diffNote.textContent = `Frame ${frame}: ${error.message}`; });
    }

    function load() {
      loading = true;
      const {a, b} = versions();
      const trackA = new Track(viewA, a.media, "player-video-a");
      const tracks = [trackA];
      labelA.textContent = `A · v${a.number}`;
      panel.querySelector(".note-a").textContent = `A: ${a.media.note}`;
      if (single) {
        viewB.replaceChildren();
        panel.querySelector(".note-b").textContent = "";
      } else {
        tracks.push(new Track(viewB, b.media, "player-video-b"));
        labelB.textContent = `B · v${b.number}`;
        panel.querySelector(".note-b").textContent = `B: ${b.media.note}`;
      }
      stage.dataset.exact = String(!single && a.media.kind !== "video" && b.media.kind !== "video");
      stage.style.setProperty("--aspect", `${a.media.width} / ${a.media.height}`);
      transport.setSource(new PairSource(tracks), (single ? a : b).media.fps);
      loading = false;
    }

    function choose(select, stillSelect) {
      select.addEventListener("change", () => {
        load();
        if (stillSelect && stillSelect.value !== select.value) {  // the stored-frames comparison shows the same pair
          stillSelect.value = select.value;
          stillSelect.dispatchEvent(new Event("change"));
        }
      });
      if (stillSelect) {
        stillSelect.addEventListener("change", () => {
          if (select.value === stillSelect.value) return;
          select.value = stillSelect.value;
          load();
        });
      }
    }

    function setMode(mode) {
      stage.dataset.mode = mode;
      panel.dataset.mode = mode;
      for (const button of panel.querySelectorAll(".player-modes button")) {
        button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
      }
      exactLayer(transport.frame);
      if (mode === "difference") {
        if (transport.dir) diffNote.textContent = "Black where A and B are the same; pause for the exact count.";
        else exactSummary(transport.frame);
      }
    }

    function wipeTo(percent) {
      const at = Math.max(0, Math.min(100, percent));
      stage.style.setProperty("--wipe", `${at}%`);
      wipeAt.value = String(Math.round(at));
    }

    function dragWipe() {
      let dragging = false;
      const fromPointer = (event) => {
        const box = stage.getBoundingClientRect();
        wipeTo((event.clientX - box.left) / box.width * 100);
      };
      stage.addEventListener("pointerdown", (event) => {
        if (stage.dataset.mode !== "wipe") return;
        dragging = true;
        stage.setPointerCapture(event.pointerId);
        fromPointer(event);
      });
      stage.addEventListener("pointermove", (event) => { if (dragging) fromPointer(event); });
      const stop = () => { dragging = false; };
      stage.addEventListener("pointerup", stop);
      stage.addEventListener("pointercancel", stop);
      wipeAt.addEventListener("input", () => wipeTo(Number(wipeAt.value)));
    }

    getJson(panel.dataset.source).then((data) => {
      byKey = new Map(data.versions.map((v) => [v.key, v]));
      single = data.versions.length < 2;
      for (const select of [selectA, selectB]) {
        select.replaceChildren(...data.versions.map((v) => new Option(v.label, v.key)));
      }
      selectA.value = data.a;
      selectB.value = data.b;
      panel.classList.toggle("single", single);
      selectB.disabled = single;
      for (const button of panel.querySelectorAll(".player-modes button")) {
        button.disabled = single && button.dataset.mode !== "side";
        button.addEventListener("click", () => setMode(button.dataset.mode));
      }
      note.textContent = single ? "one version so far: render a change to compare two"
        : "A and B play together, frame for frame";
      choose(selectA, stills.a);
      choose(selectB, stills.b);
      dragWipe();
      opacity.addEventListener("input", () => stage.style.setProperty("--overlay", String(Number(opacity.value) / 100)));
      load();
      panel.dataset.state = "paused";
      panel.dataset.ready = "true";
    }).catch((error) => {
      note.textContent = `cannot load the versions to play: ${error.message}`;
      panel.dataset.state = "failed";
    });
    return transport;
  }

  // ------------------------------------------------------------------ the hook-up

  const ROLE_NAMES = {previous: "Before", current: "This shot", next: "After"};

  function hookupPlayer(panel) {
    const strip = panel.querySelector(".hookup-strip");
    const empty = panel.querySelector(".hookup-empty");
    const transport = new Transport(panel, {shown: () => {}, settled: () => {}});
    const cards = new Map();

    function placed(place) {  // the shot now showing: marked in the strip and on the panel
      panel.dataset.playing = place.shot;
      panel.dataset.playingRole = place.role;
      for (const [role, card] of cards) card.classList.toggle("playing", role === place.role);
    }

    getJson(panel.dataset.source).then((data) => {
      for (const place of data.shots) {
        const card = element("li", `hookup-card ${place.role}`);
        card.setAttribute("data-testid", `hookup-${place.role}`);
        card.append(element("strong", "", ROLE_NAMES[place.role]));
        if (place.shot) {
          const link = element("a", "mono", place.shot);
          link.href = `/shots/${place.shot}/review`;
          card.append(" ", link);
          if (place.version) card.append(" ", element("span", "muted", `v${place.version}`));
        }
        card.append(element("p", "muted small-text", place.note));
        if (!place.media) card.classList.add("missing");
        cards.set(place.role, card);
        strip.append(card);
      }
      const playable = data.shots.filter((place) => place.media && place.media.kind !== "none");
      if (!playable.length) {
        empty.textContent = "Nothing to play yet: none of these shots has a video or stored frames.";
        empty.hidden = false;
        panel.dataset.state = "empty";
        return;
      }
      const fps = playable.find((place) => place.role === "current")?.media.fps || playable[0].media.fps;
      transport.setSource(new SequenceSource(panel, playable, placed), fps);
      panel.dataset.state = "paused";
      panel.dataset.ready = "true";
    }).catch((error) => {
      empty.textContent = `cannot load the neighbouring shots: ${error.message}`;
      empty.hidden = false;
      panel.dataset.state = "failed";
    });
    return transport;
  }

  // ------------------------------------------------------------------ the keys

  // J/K/L, ←/→ and space drive the player last used (the A/B player until another is clicked); never
  // while typing in a field.
  function keys(players) {
    let active = players[0];
    for (const {panel, transport} of players) {
      for (const kind of ["pointerdown", "focusin"]) panel.addEventListener(kind, () => { active = {panel, transport}; });
    }
    // A text field or a list takes the keys; a checkbox, slider or button does not (space still plays).
    const typing = (target) => target.closest && target.closest(
      "textarea, select, [contenteditable], input:not([type=checkbox]):not([type=radio]):not([type=range]):not([type=button])");
    const pressable = (target) => target.closest && target.closest("button, input[type=checkbox], input[type=radio]");
    const actions = {
      " ": (t) => t.toggle(), k: (t) => t.pause(), l: (t) => t.forward(), j: (t) => t.backward(),
      ArrowLeft: (t) => t.step(-1), ArrowRight: (t) => t.step(1),
    };
    document.addEventListener("keydown", (event) => {
      if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented || typing(event.target)) return;
      const action = actions[event.key.length === 1 ? event.key.toLowerCase() : event.key];
      if (!action || !active) return;
      event.preventDefault();  // no page scroll, no second click of a focused button
      action(active.transport);
    });
    document.addEventListener("keyup", (event) => {  // a focused button would take a space as its own click
      if (event.key === " " && pressable(event.target)) {
        event.preventDefault();
      }
    });
  }

  function start() {
    const players = [];
    const panel = document.getElementById("player");
    if (panel) players.push({panel, transport: abPlayer(panel)});
    const hookup = document.getElementById("hookup");
    if (hookup) players.push({panel: hookup, transport: hookupPlayer(hookup)});
    if (players.length) keys(players);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
