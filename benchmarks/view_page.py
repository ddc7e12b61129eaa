"""The HTML page of a real transcription in a real headless Chromium: render time, page size, script
errors, requests, and a screenshot (the one in the README).

    .venv/bin/python benchmarks/view_page.py
    .venv/bin/python benchmarks/view_page.py --screenshot docs/images/view-page.png

The recording is synthesized, never taken from the development data: a 5-bar groove at 112 BPM
(crash on the ones, 8th-note hats with an open hat, a tom fill) played on a Hydrogen drum kit
(Debian: ``apt-get install hydrogen-drumkits``) or, without one, on the test suite's synthesizer
(kick, snare and hats only). It is transcribed by the shipped model into a temporary local mirror,
its page written with ``drumscribe.job_page`` and opened in Chromium (needs the ``test`` extra).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "views"), str(REPO / "tests" / "transcription")]
BPM = 112.0
KIT = "The Black Pearl 1.0"  # a plain acoustic kit; any installed Hydrogen kit works


def performance() -> list[tuple[float, str, float]]:
    """(time s, instrument, velocity 0..1): 4 bars of groove and a fill, then a crash to end on."""
    beat, start = 60.0 / BPM, 0.4
    hits = []
    for bar in range(4):
        t0 = start + 4 * beat * bar
        if bar in (0, 2):
            hits.append((t0, "crash", 0.9))
        for k in (0, 2.5) if bar % 2 else (0, 2, 2.5):
            hits.append((t0 + k * beat, "kick", 0.95 if k == 0 else 0.8))
        for k in (1, 3) if bar < 3 else (1,):
            hits.append((t0 + k * beat, "snare", 0.9))
        for e in range(8 if bar < 3 else 4):
            if (bar, e) == (1, 7):
                hits.append((t0 + e * beat / 2, "hihat_open", 0.75))
            elif not (bar in (0, 2) and e == 0):
                hits.append((t0 + e * beat / 2, "hihat_closed", 0.8 if e % 2 == 0 else 0.55))
        if bar == 3:  # the fill: 16ths down the toms
            for s, name in enumerate(["snare", "snare", "tom_high", "tom_high", "tom_mid", "tom_mid", "tom_low", "tom_low"]):
                hits.append((t0 + 2 * beat + s * beat / 4, name, 0.7 + 0.03 * s))
    end = start + 16 * beat
    hits += [(end, "crash", 1.0), (end, "kick", 1.0)]
    return sorted(hits)


def recording(path: Path) -> str:
    """Write the performance to ``path``; returns what played it."""
    hits = performance()
    duration = hits[-1][0] + 2.5
    try:
        from drumscribe.training import render

        kits = {kit.name: kit for kit in render.hydrogen_kits()}
    except Exception:
        kits = {}
    if kits:
        kit = kits.get(KIT) or next(iter(kits.values()))
        events = [(t, render.R[name], v) for t, name, v in hits]
        audio, _ = render.render_hydrogen(kit, events, duration, np.random.default_rng(7))
        sf.write(path, 0.9 * audio / np.abs(audio).max(), render.SR)
        return f"Hydrogen kit {kit.name!r}"
    import synth

    simple = [(t, name if name in synth.SOUNDS else "snare", v) for t, name, v in hits if name in synth.SOUNDS]
    sf.write(path, synth.render(simple, duration), synth.SR)
    return "the test synthesizer (install hydrogen-drumkits for toms and cymbals)"


def small_png(png: bytes) -> bytes:
    """A palette PNG: a flat-coloured page needs no more than 256 colours (3-4x smaller)."""
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, help="save the screenshot here (PNG)")
    args = parser.parse_args()
    from headless_chromium import find_chromium, open_page

    chromium = find_chromium()
    if chromium is None:
        sys.exit("no Chromium installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="drumscribe-view-") as tmp:
        os.environ.update(DRUMSCRIBE_HOME=str(Path(tmp) / "home"), DRUMSCRIBE_USER="demo")
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            del os.environ[name]  # the local mirror, whatever the shell has configured
        import drumscribe
        from drumscribe.storage import get_storage

        wav = Path(tmp) / "groove-112bpm.wav"
        played_by = recording(wav)
        settings = drumscribe.load_settings()
        storage = get_storage(settings, prefer_local=True, announce=False)
        t, _ = drumscribe.transcribe_and_store(wav, storage=storage, settings=settings)
        started = time.perf_counter()
        html = drumscribe.job_page(t.job_id, settings, storage, page_dir=tmp)
        render_ms = (time.perf_counter() - started) * 1000
        page_path = Path(tmp) / "page.html"
        page_path.write_text(html)
        with open_page(chromium, page_path, width=1100, height=560) as opened:
            page = opened.page
            drawn = page.locator(".hit").count()
            page.fill("#synth-level", "0.5")
            page.click("#play")
            opened.wait_for("parseFloat(document.getElementById('clock').textContent.split(':')[1]) > 3.3", timeout=15)
            page.click("#play")
            ordered = sorted(t.events, key=lambda e: e.time)
            tom = next((i for i, e in enumerate(ordered) if e.instrument.startswith("tom")), len(ordered) - 1)
            page.locator(f".hit[data-index=\"{tom}\"]").click()  # the fill's first tom: lit, and its line in the status
            shot = small_png(opened.screenshot())
            errors, requests = list(opened.errors), list(opened.requests)
    if args.screenshot:
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        args.screenshot.write_bytes(shot)
    rows = [
        ("recording", f"{t.duration:.1f} s at {BPM:.0f} BPM, played by {played_by}"),
        ("transcribed", f"{len(t.events)} hits: " + ", ".join(f"{k} {v}" for k, v in t.counts().items())),
        ("page", f"{len(html.encode()) / 1024:.1f} KiB, rendered in {render_ms:.0f} ms"),
        ("hits drawn", f"{drawn} of {len(t.events)}"),
        ("script errors", str(len(errors)) + "".join(f"\n    {e}" for e in errors)),
        ("requests", ", ".join(Path(r).name if r.startswith("file:") else r[:60] for r in requests)),
        ("screenshot", f"{len(shot) / 1024:.0f} KiB" + (f" -> {args.screenshot}" if args.screenshot else "")),
    ]
    for name, value in rows:
        print(f"{name:14} {value}")
    if errors or drawn != len(t.events):
        sys.exit(1)


if __name__ == "__main__":
    main()
