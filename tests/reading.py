"""What a person reads on a page, and the words on it that are not in the page's language.

An English page shows no Chinese but what is Chinese in any language: the names of the parties
and of their insurers and the plates (data, as registered), the parties' designations 甲/乙/丙
as the legal document prints them ("Party 乙 (B)"), and text the page marks as Chinese
(`lang="zh-CN"`: the 中文 switch, a legal text or an officer's words quoted as written).

A Chinese page shows no Latin word but plates (浙A12345), units after a number (150 米 is
Chinese, but a size in KB or a duration in ms is not translated), the name of the hash function
SHA-256 (what the page says the fingerprint of the evidence is, as standards name it), the
first digits of a fingerprint (ab12cd34ef56…), a link (the join link under its QR code) and
text marked as English (the English switch).
"""

import re
from collections.abc import Iterable

from playwright.sync_api import Page

# The text a person sees: visible text nodes, the placeholders of visible fields and the
# window's title; text inside an element marked as another language than the page's is meant.
VISIBLE_TEXT = r"""() => {
  const visible = (el) => el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const ownLanguage = (el) => {
    const tagged = el.closest("[lang]");
    return !tagged || tagged === document.documentElement || tagged.lang === document.documentElement.lang;
  };
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || ["SCRIPT", "STYLE", "OPTION"].includes(parent.tagName)) continue;
    if (visible(parent) && ownLanguage(parent) && node.textContent.trim()) texts.push(node.textContent);
  }
  for (const field of document.querySelectorAll("[placeholder]")) {
    if (visible(field) && ownLanguage(field)) texts.push(field.placeholder);
  }
  return texts;
}"""

PLATE = r"[\u4e00-\u9fff][A-Z][A-Z0-9]{4,6}[\u4e00-\u9fff]?"
DESIGNATION = r"[甲乙丙丁戊己庚辛壬癸] \([A-J]\)"
# Han characters and the full-width punctuation that comes with them (，：（）).
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]+")
UNIT = r"\d+(?:\.\d+)?\s?(?:km|m|s|ms|KB|MB|GB)\b"
HASH = r"\bSHA-256\b"
DIGEST = r"\b[0-9a-f]{12,64}…"
LINK = r"https?://\S+"
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def visible_text(page: Page) -> list[str]:
    return page.evaluate(VISIBLE_TEXT)


def stray_chinese(page: Page, names: Iterable[str] = ()) -> list[str]:
    """The runs of Chinese on an English page that are not names, plates or designations."""
    allowed = re.compile("|".join([PLATE, DESIGNATION, *map(re.escape, names)]))
    texts = [allowed.sub(" ", text) for text in visible_text(page)]
    return sorted({run for text in texts for run in CHINESE.findall(text)})


def stray_latin(page: Page) -> list[str]:
    """The words in Latin letters on a Chinese page that are not plates, units or SHA-256."""
    allowed = re.compile(f"{PLATE}|{UNIT}|{HASH}|{DIGEST}|{LINK}")
    return sorted(
        {word for text in visible_text(page) for word in LATIN_WORD.findall(allowed.sub(" ", text))}
    )


def stray_words(page: Page, names: Iterable[str] = ()) -> list[str]:
    """What is not in the page's own language (its <html lang>), by `stray_chinese` or `stray_latin`."""
    if page.evaluate("document.documentElement.lang").startswith("zh"):
        return stray_latin(page)
    return stray_chinese(page, names)
