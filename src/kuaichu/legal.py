"""How code names its legal basis ("art. 13 (5)"), and how a person reads it.

The law is named in the reader's language; the determination document, the Chinese legal
text, cites it in Chinese (its callers pass DEFAULT_LOCALE, the default).
"""

import re

from kuaichu.messages import DEFAULT_LOCALE, Locale, Text, text

_ARTICLE = re.compile(r"art\. (\d+)(?: \((\d+)\))?")
# A basis names order No. 146 unless it starts with another instrument's mark:
# "MTLI art. 21" is the compulsory-insurance regulation (机动车交通事故责任强制保险条例),
# "RTSL art. 76 (1)" the Road Traffic Safety Law (道路交通安全法).
_INSTRUMENTS = {"MTLI": "Legal.citation_mtli", "RTSL": "Legal.citation_rtsl"}


def cite(basis: str, locale: Locale = DEFAULT_LOCALE) -> str:
    """'art. 13 (5), art. 19' -> 《道路交通事故处理程序规定》第13条第5项、第19条 (zh-CN), or
    'Art. 13(5), Art. 19 of the Provisions on ...' (en). Text that cites nothing is kept as is."""
    instrument, _, rest = basis.partition(" ")
    citation = _INSTRUMENTS.get(instrument, "Legal.citation")
    if instrument in _INSTRUMENTS:
        basis = rest
    articles = [
        text("Legal.article_item" if item else "Legal.article", locale, article=article, item=item)
        for article, item in _ARTICLE.findall(basis)
    ]
    if not articles:
        return basis
    return text(citation, locale, articles=text("Legal.separator", locale).join(articles))


class Citation(Text):
    """A citation said later, in the locale of the text it is a parameter of:
    `Text("Liability.basis", article=Citation("art. 60 (1)"))` cites in the reader's language."""

    __slots__ = ()

    def __init__(self, basis: str) -> None:
        super().__init__("Legal.citation", basis=basis)

    def render(self, locale: Locale = DEFAULT_LOCALE) -> str:
        return cite(str(self.params["basis"]), locale)
