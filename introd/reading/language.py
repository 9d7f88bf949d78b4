"""Which of introd's languages a text is written in, from its most common words.

Good enough to pick the template language for someone who wrote to us in
French; it answers None rather than guess on short or mixed text.
"""

from __future__ import annotations

from introd.patterns import LazyPattern

_WORDS = LazyPattern(r"[a-zàâäçéèêëîïôöùûüÿñáíóúß']+")

_STOPWORDS = {
    "en": set(
        "the and you to of is that for it with be this have are not but would "
        "your can will my me on at as we so do if about".split()
    ),
    "fr": set(
        "le la les et vous de des du un une est que pour pas je ne avec ce sur "
        "mais merci bien très suis nous votre vos au aux".split()
    ),
    "de": set(
        "der die das und sie ich nicht ist ein eine zu mit den dem für auf "
        "gerne ihnen ihr wir auch aber vielen dank sehr bin".split()
    ),
    "es": set(
        "el la los las y usted de que en un una es para por no con su gracias "
        "muy estoy nos pero lo al del me".split()
    ),
}


def guess_language(text: str, minimum: int = 3) -> str | None:
    """'en', 'fr', 'de' or 'es' when the text clearly is; else None."""
    words = _WORDS.findall(text.lower())
    if not words:
        return None
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < minimum or ranked[0] < 2 * ranked[1]:
        return None
    return best
