from playwright.sync_api import sync_playwright
J = "20261201T072702Z-497782b7"
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--mute-audio"], headless=True)
    page = b.new_page(viewport={"width": 900, "height": 900})
    errs = []
    page.on("console", lambda m: errs.append((m.type, m.text)) if m.type == "error" else None)
    page.goto(f"http://127.0.0.1:8765/jobs/{J}")
    frame = page.frame_locator("#result-frame")
    frame.locator("body[data-state=ready]").wait_for(timeout=10000)
    inside = page.query_selector("#result-frame").content_frame()
    frame.locator("#play").click()
    page.wait_for_timeout(800)
    print("seekable", inside.evaluate("(() => { const a = document.getElementById('original'); return [a.seekable.length && a.seekable.end(0), a.buffered.length && a.buffered.end(0)]; })()"))
    box = frame.locator("#ruler").bounding_box()
    pps = inside.evaluate("parseFloat(getComputedStyle(document.getElementById('canvas')).getPropertyValue('--pps'))")
    print("pps", pps)
    frame.locator("#ruler").click(position={"x": 6.0 * pps, "y": 5})
    page.wait_for_timeout(800)
    print("after seek", inside.evaluate("document.getElementById('original').currentTime"), frame.locator("#clock").text_content(), frame.locator("#status").text_content())
    print(errs)
    b.close()
