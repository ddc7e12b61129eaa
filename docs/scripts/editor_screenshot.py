"""The screenshot of the editor in docs/editing.md, and the transcripts around it.

    .venv/bin/python docs/scripts/editor_screenshot.py docs/images/editor.png

The recording is benchmarks/view_page.py's (a synthesized groove with a tom fill, never the
development data), transcribed by the shipped model into a temporary local mirror. The script
then does what the page's user would: `drumscribe edit JOB` (its library twin, EditServer) in
headless Chromium, adds a floor tom by double-clicking its lane, makes the first ride a crash (the
model heard the crashes of this kit as rides) with the crash's key, selects two hi-hats with a box, and takes the picture with the changes unsaved; then it
saves, and prints `show`'s first lines and `edit --import`'s answer for the page's transcripts.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO / "tests" / "views"), str(REPO / "tests" / "transcription")]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory(prefix="drumscribe-editor-") as tmp:
        os.environ.update(DRUMSCRIBE_HOME=str(Path(tmp) / "home"), DRUMSCRIBE_USER="demo", COLUMNS="110")
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            del os.environ[name]
        import drumscribe
        from drumscribe.storage import get_storage
        from headless_chromium import find_chromium, open_page
        from view_page import recording, small_png

        wav = Path(tmp) / "groove-112bpm.wav"
        print("recording:", recording(wav))
        settings = drumscribe.load_settings()
        storage = get_storage(settings, prefer_local=True, announce=False)
        t, _ = drumscribe.transcribe_and_store(wav, storage=storage, settings=settings)
        editor = drumscribe.EditServer(t.job_id, settings=settings, storage=storage).start()
        with open_page(find_chromium(), editor.url, width=1100, height=640) as opened:
            page = opened.page
            page.evaluate("document.getElementById('follow').checked = false")
            kicks = page.locator('.hit[data-lane="kick"]')
            a, b = kicks.nth(0).bounding_box(), kicks.nth(1).bounding_box()
            ta, tb = float(kicks.nth(0).get_attribute("data-time")), float(kicks.nth(1).get_attribute("data-time"))
            x_of = lambda s: a["x"] + a["width"] / 2 + (s - ta) * (b["x"] - a["x"]) / (tb - ta)  # noqa: E731
            lane = page.locator('.lane[data-lane="tom_low"]').bounding_box()
            page.mouse.dblclick(x_of(ta + 0.8), lane["y"] + lane["height"] / 2)  # a floor tom the model missed
            page.locator('.hit[data-lane="ride"]').nth(0).click()
            page.keyboard.press("c")  # it was a crash
            hats = page.locator('.hit[data-lane="hihat_closed"]')
            h1, h2 = hats.nth(2).bounding_box(), hats.nth(3).bounding_box()
            page.mouse.move(h1["x"] - 6, h1["y"] - 4)
            page.mouse.down()
            page.mouse.move(h2["x"] + h2["width"] + 6, h2["y"] + h2["height"] + 4, steps=6)
            page.mouse.up()
            shot = small_png(opened.screenshot())
            page.keyboard.press("Control+s")
            opened.wait_for("document.body.dataset.dirty === 'false' && document.body.dataset.saving === 'false'")
            print("page:", page.locator("#status").text_content())
            errors = list(opened.errors)
        editor.stop()
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(shot)
            print(f"screenshot: {len(shot) / 1024:.0f} KiB -> {out}")
        from typer.testing import CliRunner

        from drumscribe.cli import app

        shown = CliRunner().invoke(app, ["--local", "show", t.job_id])
        print("$ drumscribe show", t.job_id, "\n" + shown.stderr + "\n".join(shown.stdout.splitlines()[:4]))
        print("script errors:", errors)
        if errors:
            sys.exit(1)


if __name__ == "__main__":
    main()
