"""Markdown from token creators, rendered safely: markdown-it-py parses CommonMark with raw HTML
turned off, and nh3 (the Rust ammonia sanitizer) keeps only formatting tags and http(s)/mailto
links, each opened with `rel="noopener noreferrer nofollow"`."""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

# "commonmark" with html=False: any <tag> in the text stays text; linkify off (no bare-URL magic).
_PARSER = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"


def markdown_html(text: str) -> str:
    """Sanitized HTML of `text` (a fragment, safe to insert in a page or an email)."""
    return nh3.clean(
        _PARSER.render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
    )


def markdown_plain(text: str) -> str:
    """The words of `text` without markup, for one-line previews."""
    return " ".join(html.unescape(nh3.clean(_PARSER.render(text), tags=set())).split())
