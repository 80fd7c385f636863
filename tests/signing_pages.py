"""A party signs the record on their own phone's page: opens the confirmation, reads it, draws a
signature on the canvas with the pointer, and sends it."""

from playwright.sync_api import Page, expect

# A signature's strokes, as fractions of the canvas: two loops and a tail.
STROKES = (
    [(0.1, 0.7), (0.2, 0.3), (0.3, 0.7), (0.4, 0.35), (0.5, 0.65)],
    [(0.55, 0.5), (0.7, 0.3), (0.8, 0.6), (0.9, 0.45)],
)


def draw_signature(page: Page) -> None:
    """Pointer strokes on the signature pad, as a finger would draw them."""
    box = page.locator("#signature-pad").bounding_box()
    assert box is not None
    for stroke in STROKES:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6)
        page.mouse.up()


def sign_on_page(page: Page, opener: str = "#confirm-open") -> None:
    """The party reviews the record and signs; an empty pad is refused first. `opener`: the
    button that opens it (in the call, or on the progress page of a party not in the call)."""
    page.click(opener)
    expect(page.locator("#sign-dialog")).to_be_visible()
    expect(page.locator("#confirm-parties li")).to_have_count(2, timeout=60_000)
    expect(page.locator("#confirm-sign-area")).to_be_visible()
    expect(page.locator("#confirm-facts")).to_contain_text("文三路")
    expect(page.locator("#confirm-stills img").first).to_be_visible()
    page.click("#signature-submit")
    expect(page.locator("#confirm-error")).to_have_text("请先在框内手写签名")
    draw_signature(page)
    page.click("#signature-clear")
    draw_signature(page)
    page.click("#signature-submit")
    expect(page.locator("#confirm-done")).to_contain_text("您已于", timeout=60_000)
    expect(page.locator("#confirm-sign-area")).to_be_hidden()
    page.click("#confirm-close")
    expect(page.locator("#confirm-status")).to_contain_text("您已于")
