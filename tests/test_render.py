"""The one way record text becomes HTML (app/web/render.py): escaped, whole, with the spans marked."""

from app.web.render import child_text, child_words, marked_text


def test_marked_text_is_the_whole_text_escaped_with_only_the_spans_marked():
    text = "Intro line. " * 60 + "<script>alert(1)</script> Marilyn Carr visited."
    start = text.index("Marilyn")
    out = marked_text(text, [(start, start + len("Marilyn Carr"))])
    assert out.startswith('<div class="cl-text">Intro line.')  # from the first character, not a window
    assert out.endswith("visited.</div>")
    assert "<mark>Marilyn Carr</mark>" in out and "<script>" not in out and "&lt;script&gt;" in out
    assert out.count("<mark>") == 1


def test_a_child_reads_as_name_age_and_locality_and_is_escaped_for_html():
    profile = {"name": "Sam <b>Lee</b>", "age": 7, "locality": "Goole"}
    assert child_text(profile, "P0000001") == "Sam <b>Lee</b> · age 7 · Goole · P0000001"
    assert child_words(profile, "P0000001") == "Sam &lt;b&gt;Lee&lt;/b&gt; · age 7 · Goole · P0000001"
    assert child_text({"child_id": "P0000002", "name": None}, "P0000002") == "name not recorded · P0000002"
