// playback: the original (an <audio>) with a synthesized drum track (Web Audio) over it, kept in
// step; the transport (play, pause, seek, follow) and the mix.
const playhead = $("playhead"), audioEl = $("original"), playBtn = $("play"), clock = $("clock");
const origOn = $("orig-on"), origLevel = $("orig-level"), synthOn = $("synth-on"), synthLevel = $("synth-level");
const follow = $("follow");
const LOOKAHEAD = 0.12;

let ctx = null, drumBus = null, noise = null, playBus = null;
const audioContext = () => {
  if (!ctx) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { say("This browser has no Web Audio: the drum track cannot play."); return null; }
    ctx = new Context();
    drumBus = ctx.createGain();
    drumBus.connect(ctx.destination);
    noise = ctx.createBuffer(1, ctx.sampleRate * 2, ctx.sampleRate);
    const samples = noise.getChannelData(0);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.random() * 2 - 1;
    applyLevels();
  }
  if (ctx.state === "suspended") ctx.resume().catch(() => {});
  return ctx;
};
const envelope = (when, peak, decay, out) => {
  const gain = ctx.createGain();
  gain.gain.setValueAtTime(0.0001, when);
  gain.gain.exponentialRampToValueAtTime(Math.max(peak, 0.0002), when + 0.002);
  gain.gain.exponentialRampToValueAtTime(0.0001, when + decay);
  gain.connect(out);
  return gain;
};
const tone = (out, when, f0, f1, decay, peak, type) => {
  const osc = ctx.createOscillator();
  osc.type = type || "sine";
  osc.frequency.setValueAtTime(f0, when);
  osc.frequency.exponentialRampToValueAtTime(f1, when + decay * 0.6);
  osc.connect(envelope(when, peak, decay, out));
  osc.start(when);
  osc.stop(when + decay + 0.05);
};
const hiss = (out, when, type, freq, q, decay, peak) => {
  const src = ctx.createBufferSource();
  src.buffer = noise;
  const filter = ctx.createBiquadFilter();
  filter.type = type;
  filter.frequency.value = freq;
  filter.Q.value = q;
  src.connect(filter).connect(envelope(when, peak, decay, out));
  src.start(when, Math.random() * 0.5);
  src.stop(when + decay + 0.05);
};
const VOICES = {
  kick: (o, w, a) => { tone(o, w, 150, 45, 0.35, a); hiss(o, w, "lowpass", 3000, 0.7, 0.01, a * 0.3); },
  snare: (o, w, a) => { hiss(o, w, "highpass", 1200, 0.7, 0.18, a * 0.7); tone(o, w, 230, 170, 0.1, a * 0.5, "triangle"); },
  side_stick: (o, w, a) => { hiss(o, w, "bandpass", 2200, 3, 0.05, a * 0.9); tone(o, w, 520, 430, 0.04, a * 0.25, "square"); },
  hihat_closed: (o, w, a) => hiss(o, w, "highpass", 7500, 0.7, 0.05, a * 0.5),
  hihat_pedal: (o, w, a) => hiss(o, w, "highpass", 6000, 0.7, 0.04, a * 0.35),
  hihat_open: (o, w, a) => hiss(o, w, "highpass", 7000, 0.7, 0.35, a * 0.45),
  tom_high: (o, w, a) => tone(o, w, 250, 185, 0.3, a),
  tom_mid: (o, w, a) => tone(o, w, 175, 130, 0.35, a),
  tom_low: (o, w, a) => tone(o, w, 125, 88, 0.45, a),
  crash: (o, w, a) => hiss(o, w, "highpass", 4000, 0.5, 1.4, a * 0.45),
  ride: (o, w, a) => { hiss(o, w, "bandpass", 7000, 1.5, 0.7, a * 0.3); tone(o, w, 3100, 2950, 0.5, a * 0.06); },
};
const voiceFor = (name) => VOICES[name] || (/tom/.test(name) ? VOICES.tom_mid : /hat|cymbal|crash|ride/.test(name) ? VOICES.hihat_closed : VOICES.snare);
const strike = (hit, when, out) => {
  voiceFor(data.lanes[hit.lane].name)(out, Math.max(when, ctx.currentTime), 0.9 * Math.pow(hit.v / 127, 1.5));
};
const audition = (hit) => { if (audioContext()) strike(hit, ctx.currentTime, drumBus); };  // hear one hit now

const hasOriginal = Boolean(data.audio);
let playing = false, waiting = false, anchorCtx = 0, anchorPos = 0, pos = 0, next = 0, scheduledUntil = 0, timer = null;
const firstHitFrom = (t) => {  // index of the first hit at or after t (hits are sorted)
  let lo = 0, hi = hits.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (hits[mid].t < t) lo = mid + 1; else hi = mid; }
  return lo;
};
const now = () => (playing && !waiting ? anchorPos + (ctx.currentTime - anchorCtx) : pos);
const originalPlays = () => hasOriginal && origOn.checked;

function applyLevels() {
  audioEl.volume = Number(origLevel.value);
  origLevel.parentElement.classList.toggle("off", !originalPlays());
  synthLevel.parentElement.classList.toggle("off", !synthOn.checked);
  if (drumBus) drumBus.gain.value = synthOn.checked ? Number(synthLevel.value) : 0;
}
const schedule = () => {
  const until = now() + LOOKAHEAD;
  while (next < hits.length && hits[next].t < until) {
    strike(hits[next], anchorCtx + hits[next].t - anchorPos, playBus);
    next++;
  }
  scheduledUntil = Math.max(scheduledUntil, until);
};
const anchor = (songTime) => {
  anchorCtx = ctx.currentTime;
  anchorPos = songTime;
  next = firstHitFrom(Math.max(songTime, scheduledUntil));
};
// the hits changed while playing: go on from what is not scheduled yet
const hitsChanged = () => { if (playing && !waiting) next = firstHitFrom(scheduledUntil); };
function start() {
  if (!audioContext()) return;
  if (pos >= duration - 0.01) pos = 0;
  playing = true;
  playBus = ctx.createGain();
  playBus.connect(drumBus);
  scheduledUntil = pos;
  next = firstHitFrom(pos);
  playBtn.textContent = "\u25AE\u25AE Pause";
  document.body.dataset.state = "playing";
  const go = () => { waiting = false; anchor(originalPlays() ? audioEl.currentTime : pos); timer = setInterval(schedule, 25); schedule(); };
  if (originalPlays()) {
    waiting = true;  // the synth starts when the original does, so the two line up
    audioEl.currentTime = pos;
    audioEl.play().then(() => { if (playing) go(); }).catch((err) => {
      say("The original did not play (" + err.message + "); playing the drum track alone.");
      if (playing) go();
    });
  } else {
    go();
  }
  requestAnimationFrame(tick);
}
function stop() {
  pos = Math.min(now(), duration);
  playing = waiting = false;
  clearInterval(timer);
  audioEl.pause();
  if (playBus) { playBus.disconnect(); playBus = null; }  // silences what was already scheduled
  playBtn.textContent = "\u25B6 Play";
  document.body.dataset.state = "paused";
  draw();
}
const seek = (t) => {
  const wasPlaying = playing;
  if (playing) stop();
  pos = Math.min(Math.max(0, t), duration);
  draw();
  if (wasPlaying) start();
};
function draw() {
  const t = now();
  clock.textContent = fmt(t) + " / " + fmt(duration);
  playhead.style.setProperty("--t", String(Math.max(0, t)));
  if (playing && follow.checked) {
    const x = t * pps;
    if (x < scroller.scrollLeft + 10 || x > scroller.scrollLeft + scroller.clientWidth - 40) scroller.scrollLeft = x - scroller.clientWidth * 0.25;
  }
}
function tick() {
  if (!playing) return;
  if (!waiting && originalPlays() && !audioEl.paused && Math.abs(audioEl.currentTime - now()) > 0.04) anchor(audioEl.currentTime);
  if (!waiting && now() >= duration) { stop(); pos = duration; draw(); return; }
  draw();
  requestAnimationFrame(tick);
}
playhead.style.left = "calc(var(--t) * var(--pps) * 1px)";

playBtn.addEventListener("click", () => (playing ? stop() : start()));
$("rewind").addEventListener("click", () => seek(0));
ruler.addEventListener("click", (e) => seek(timeAt(e)));
for (const input of [origOn, origLevel, synthOn, synthLevel]) input.addEventListener("input", applyLevels);
origOn.addEventListener("change", () => {
  if (!playing) return;
  if (originalPlays()) { audioEl.currentTime = now(); audioEl.play().catch(() => {}); } else audioEl.pause();
});

if (hasOriginal) {
  audioEl.src = data.audio;
  audioEl.addEventListener("error", () => {
    say("The original audio could not be loaded (moved, or its link expired); the drum track still plays.");
    origOn.checked = false;
    origOn.disabled = true;
    applyLevels();
  });
} else {
  origOn.checked = false;
  origOn.disabled = true;
  origOn.parentElement.title = "The original is not in this page: `drumscribe show JOB --format html --embed-audio` puts it in.";
}
applyLevels();
