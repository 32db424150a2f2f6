"""Loading pools: formats, column mapping, sample pools, and every bad-file case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.data import (
    ColumnMapping,
    Example,
    Pool,
    load_pool,
    load_sample,
    parse_label_map,
    read_rows,
    sample_pools,
)
from workbench.data.files import MAX_POOL_BYTES
from workbench.data.mapping import template_columns
from workbench.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(*args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        load_pool(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---- formats ---------------------------------------------------------------------------


def test_jsonl_in_shared_schema(tmp_path):
    path = write(
        tmp_path,
        "pool.jsonl",
        '{"id": "a", "question": "2+2?", "answer": 4, "rationale": "2+2=4."}\n'
        "\n"
        '{"id": "b", "question": "Pick one", "answer": "B", "choices": {"A": "no", "B": "yes"}}\n',
    )
    pool = load_pool(path)
    assert pool.name == "pool"
    assert pool.examples == (
        Example(id="a", input="2+2?", answer="4", rationale="2+2=4."),
        Example(id="b", input="Pick one", answer="B", choices={"A": "no", "B": "yes"}),
    )


def test_csv_with_mapping_and_generated_ids(tmp_path):
    path = write(tmp_path, "reviews.csv", 'text,sentiment\n"great, really",pos\nawful,neg\nfine,pos\nbad,neg\n')
    pool = load_pool(path, ColumnMapping(input="text", answer="sentiment"))
    assert [ex.id for ex in pool] == ["row-1", "row-2", "row-3", "row-4"]
    assert pool[0] == Example(id="row-1", input="great, really", answer="pos", label="pos")
    assert pool.labels() == ("pos", "neg")


def test_tsv_and_explicit_label_column(tmp_path):
    path = write(tmp_path, "q.tsv", "id\tquestion\tanswer\tlabel\nq1\tWho?\tAda\thuman\nq2\tWhere?\tRome\tlocation\n")
    pool = load_pool(path)
    assert [(ex.id, ex.input, ex.answer, ex.label) for ex in pool] == [
        ("q1", "Who?", "Ada", "human"),
        ("q2", "Where?", "Rome", "location"),
    ]


def test_json_array_and_csv_choices_as_json_text(tmp_path):
    rows = [{"id": "x", "question": "Q", "answer": "A", "choices": {"A": "one", "B": "two"}}]
    assert load_pool(write(tmp_path, "p.json", json.dumps(rows)))[0].choices == {"A": "one", "B": "two"}
    csv_path = write(tmp_path, "c.csv", 'question,answer,choices\nQ,A,"{""A"": ""one""}"\n')
    assert load_pool(csv_path)[0].choices == {"A": "one"}


def test_upload_tuple_format_override_and_bom():
    data = "\ufeffquestion,answer\nhello,world\n".encode()
    pool = load_pool(("upload.txt", data), fmt="csv", name="mine")
    assert pool.name == "mine"
    assert pool.examples == (Example(id="row-1", input="hello", answer="world"),)


def test_optional_field_switched_off(tmp_path):
    path = write(tmp_path, "p.jsonl", '{"question": "q", "answer": "a", "rationale": "r"}\n')
    assert load_pool(path, ColumnMapping(rationale=None))[0].rationale is None


def test_label_from_answer_only_for_classification_like_pools(tmp_path):
    rows = "".join(json.dumps({"question": f"q{i}", "answer": str(i)}) + "\n" for i in range(6))
    assert load_pool(write(tmp_path, "open.jsonl", rows)).labels() == ()


def test_content_hash_ignores_name_and_tracks_content():
    a = Pool("a", (Example("1", "x", "y"),))
    b = Pool("b", (Example("1", "x", "y"),))
    c = Pool("a", (Example("1", "x", "z"),))
    assert a.content_hash == b.content_hash
    assert a.content_hash != c.content_hash
    assert len(a.content_hash) == 64


# ---- sample pools ----------------------------------------------------------------------


def test_sample_pools_load_and_stay_small():
    pools = sample_pools()
    assert set(pools) == {"sentiment", "arithmetic", "last_letters", "trec_questions", "translation_en_fr",
                          "city_dates"}
    sizes = {name: len(load_sample(name)) for name in pools}
    assert sizes == {"sentiment": 40, "arithmetic": 30, "last_letters": 20, "trec_questions": 30,
                     "translation_en_fr": 20, "city_dates": 30}
    assert all(path.stat().st_size < 20_000 for path in pools.values())


def test_sample_labels():
    assert load_sample("sentiment").labels() == ("positive", "negative")
    assert set(load_sample("trec_questions").labels()) == {
        "abbreviation", "entity", "description", "human", "location", "number"}
    assert load_sample("arithmetic").labels() == ()
    assert all(ex.rationale for ex in load_sample("arithmetic"))


def test_last_letters_answers_are_right():
    for ex in load_sample("last_letters"):
        words = ex.input.split('"')[1].split()
        assert ex.answer == "".join(w[-1] for w in words)


def test_unknown_sample():
    with pytest.raises(DataError, match="sentiment"):
        load_sample("nope")


def test_shared_sst2_loads():
    path = SHARED / "sst2_dev.jsonl"
    if not path.exists():
        pytest.skip("../shared/datasets is absent")
    pool = load_pool(path)
    assert len(pool) == 872
    assert set(pool.labels()) == {"positive", "negative"}


# ---- bad files -------------------------------------------------------------------------


def test_not_utf8(tmp_path):
    path = write(tmp_path, "latin.csv", "question,answer\ncaf\xe9,ok\n".encode("latin-1"))
    assert error_of(path) == "latin.csv is not UTF-8 text (byte 0xe9 at offset 19); save it as UTF-8"


def test_ragged_csv_row(tmp_path):
    path = write(tmp_path, "r.csv", "question,answer\na,b\nc,d,e\n")
    assert error_of(path) == "r.csv line 3: 3 fields but the header has 2; check quoting and delimiters"


def test_missing_mapped_column_lists_available(tmp_path):
    path = write(tmp_path, "m.csv", "text,label\na,b\n")
    assert error_of(path) == "m.csv has no column 'question' for the input; available columns: text, label"


def test_explicitly_mapped_optional_column_must_exist(tmp_path):
    path = write(tmp_path, "m.jsonl", '{"question": "q", "answer": "a"}\n')
    message = error_of(path, ColumnMapping(rationale="why"))
    assert message == "m.jsonl has no column 'why' for the rationale; available columns: question, answer"


def test_column_missing_in_a_later_jsonl_row(tmp_path):
    path = write(tmp_path, "m.jsonl", '{"question": "q", "answer": "a"}\n{"question": "r"}\n')
    assert error_of(path) == "m.jsonl line 2 has no column 'answer' for the answer"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("e.csv", "", "e.csv is empty"),
        ("e.jsonl", "\n  \n", "e.jsonl is empty"),
        ("h.csv", "question,answer\n", "h.csv has no rows"),
        ("a.json", "[]", "a.json has no rows"),
    ],
)
def test_empty_files(tmp_path, name, text, expected):
    assert error_of(write(tmp_path, name, text)) == expected


def test_duplicate_ids(tmp_path):
    path = write(tmp_path, "d.jsonl", "".join(
        json.dumps({"id": i, "question": "q", "answer": "a"}) + "\n" for i in ("x", "y", "x")))
    assert error_of(path) == "d.jsonl line 3: duplicate id 'x' (first on line 1)"


def test_invalid_json_line(tmp_path):
    path = write(tmp_path, "b.jsonl", '{"question": "q", "answer": "a"}\n{"question": "q2", \n')
    assert error_of(path).startswith("b.jsonl line 2 is not valid JSON (")


def test_invalid_json_array(tmp_path):
    assert error_of(write(tmp_path, "b.json", '[{"question": 1,]')).startswith("b.json is not valid JSON (line 1")
    assert error_of(write(tmp_path, "o.json", '{"question": "q"}')).startswith("o.json: expected a JSON array")
    assert error_of(write(tmp_path, "s.json", '["q"]')) == "s.json item 1: expected an object, found str"


def test_too_large_is_refused_before_reading(tmp_path):
    path = write(tmp_path, "big.csv", "question,answer\n" + "x,y\n" * 300)
    assert error_of(path, max_bytes=1000) == "big.csv is 1.22 kB, over the 1 kB limit; use a smaller file"
    upload = ("huge.jsonl", b" " * (MAX_POOL_BYTES + 600_000))
    assert error_of(upload) == "huge.jsonl is 50.6 MB, over the 50 MB limit; use a smaller file"


def test_empty_input_row(tmp_path):
    path = write(tmp_path, "e.csv", "question,answer\nq,a\n  ,b\n")
    assert error_of(path) == "e.csv line 3: empty input in column 'question'"


def test_bad_choices(tmp_path):
    path = write(tmp_path, "c.jsonl", '{"question": "q", "answer": "a", "choices": ["x", "y"]}\n')
    assert error_of(path).startswith("c.jsonl line 1: column 'choices' must be an object")


def test_unknown_extension_missing_file_and_folder(tmp_path):
    assert error_of(write(tmp_path, "p.xlsx", "x")).startswith("p.xlsx: cannot tell the format")
    assert error_of(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'} does not exist"
    assert error_of(tmp_path).endswith("is a folder; choose a CSV, TSV, JSON, JSONL or Parquet file")


def test_error_on_last_row_loads_nothing(tmp_path):
    good = "".join(json.dumps({"question": f"q{i}", "answer": "a"}) + "\n" for i in range(50))
    path = write(tmp_path, "late.jsonl", good + "{broken\n")
    assert error_of(path).startswith("late.jsonl line 51 is not valid JSON")


# ---- hostile files: bounded, one line each (issue 20) ------------------------------------


def deep_choices(depth: int) -> str:
    return '{"A": ' + "[" * depth + "]" * depth + "}"


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.mark.parametrize(("name", "text"), [
    ("deep.jsonl", '{"question": "q", "answer": "a", "choices": ' + deep_choices(100_000) + "}\n"),
    ("deep.json", '[{"question": "q", "answer": "a", "choices": ' + deep_choices(100_000) + "}]"),
    ("deep.csv", "question,answer,choices\nq,a," + csv_cell(deep_choices(30_000)) + "\n"),
    ("deep.jsonl", '{"question": "q", "answer": "a", "choices": ' + deep_choices(50) + "}\n"),
    ("deep.json", "[" * 100_000 + "]" * 100_000),
])
def test_deeply_nested_rows_are_refused_without_recursion(tmp_path, name, text):
    message = error_of(write(tmp_path, name, text))
    assert "nested deeper than 10 levels (limit max_depth)" in message
    assert message.startswith(name)


def test_the_depth_message_names_the_line_and_column(tmp_path):
    path = write(tmp_path, "d.jsonl", '{"question": "q", "answer": "a"}\n'
                                     '{"question": "q2", "answer": "a", "choices": ' + deep_choices(12) + "}\n")
    assert error_of(path) == ("d.jsonl line 2: choices.A" + "[0]" * 9 + ": nested deeper than 10 levels "
                              "(limit max_depth).")
    csv_path = write(tmp_path, "d.csv", "question,answer,choices\nq,a," + csv_cell(deep_choices(5_000)) + "\n")
    assert error_of(csv_path) == "d.csv line 2 column 'choices': nested deeper than 10 levels (limit max_depth)."


@pytest.mark.parametrize(("name", "text"), [
    ("n.jsonl", '{"question": "q", "answer": ' + "9" * 5000 + "}\n"),
    ("n.json", '[{"question": "q", "answer": "a", "id": ' + "9" * 5000 + "}]"),
    ("n.csv", 'question,answer,choices\nq,a,"{""A"": ' + "9" * 5000 + '}"\n'),
])
def test_numbers_with_thousands_of_digits_are_refused(tmp_path, name, text):
    assert error_of(write(tmp_path, name, text)).endswith("a number has thousands of digits; write a sensible value.")


def test_non_finite_numbers_long_texts_and_repeated_keys_are_refused(tmp_path):
    assert error_of(write(tmp_path, "f.jsonl", '{"question": "q", "answer": NaN}\n')) == (
        "f.jsonl line 1: answer: nan is not a finite number; write a plain number.")
    long_row = json.dumps({"question": "q" * 100_001, "answer": "a"})
    assert error_of(write(tmp_path, "l.jsonl", long_row + "\n")) == (
        "l.jsonl line 1: question: text of 100,001 characters; the limit is 100,000 (max_string).")
    assert error_of(write(tmp_path, "k.jsonl", '{"question": "q", "answer": "a", "answer": "b"}\n')) == (
        "k.jsonl line 1: the key 'answer' appears twice in one object; keep one (a reader would silently use "
        "only the last).")
    many = json.dumps({"question": "q", "answer": "a", "choices": {str(i): "x" for i in range(1001)}})
    assert error_of(write(tmp_path, "c.jsonl", many + "\n")) == (
        "c.jsonl line 1: choices: 1,001 items; a row may hold at most 1,000 (limit max_items).")


def test_jsonl_lines_end_at_newline_only(tmp_path):
    path = write(tmp_path, "u.jsonl", json.dumps({"question": "a\u2028b\x85c", "answer": "x"}, ensure_ascii=False)
                 + "\n")
    assert load_pool(path)[0].input == "a\u2028b\x85c"


@pytest.mark.parametrize(("name", "text", "where"), [
    ("g.csv", "question,answer\nq1,a\nq2,  \n", "line 3"),
    ("g.jsonl", '{"question": "q1", "answer": "a"}\n{"question": "q2", "answer": null}\n', "line 2"),
    ("g.json", '[{"question": "q1", "answer": ""}]', "item 1"),
])
def test_rows_with_an_empty_gold_answer_are_refused(tmp_path, name, text, where):
    assert error_of(write(tmp_path, name, text)) == (
        f"{name} {where}: empty answer in column 'answer'; fill in the gold answer or remove the row")


def test_an_empty_answer_in_a_mapped_column_names_that_column(tmp_path):
    path = write(tmp_path, "m.csv", "text,gold\nq,\n")
    assert error_of(path, ColumnMapping(input="text", answer="gold")) == (
        "m.csv line 2: empty answer in column 'gold'; fill in the gold answer or remove the row")


# ---- data as it comes: column mapping, label maps, input templates, Parquet ----------------------


def test_text_label_csv_with_numeric_labels_and_a_label_map(tmp_path):
    path = write(tmp_path, "news.csv", "text,label\nStocks fell,1\nThe match ended 2-1,2\nMarkets rose,1\nA goal,2\n")
    mapping = ColumnMapping(input="text", answer="label", label_map=parse_label_map("1=world, 2=sports"))
    pool = load_pool(path, mapping)
    assert [(ex.id, ex.input, ex.answer, ex.label) for ex in pool] == [
        ("row-1", "Stocks fell", "world", "world"), ("row-2", "The match ended 2-1", "sports", "sports"),
        ("row-3", "Markets rose", "world", "world"), ("row-4", "A goal", "sports", "sports")]
    assert pool.labels() == ("world", "sports")
    # Without a map the stored values are the labels.
    assert [ex.answer for ex in load_pool(path, ColumnMapping(input="text", answer="label"))] == ["1", "2", "1", "2"]


def test_an_unmapped_label_value_is_one_line_naming_file_line_and_column(tmp_path):
    path = write(tmp_path, "news.csv", "text,label\nStocks fell,1\nA goal,3\n")
    with pytest.raises(DataError) as err:
        load_pool(path, ColumnMapping(input="text", answer="label", label_map=(("1", "world"), ("2", "sports"))))
    assert str(err.value) == ("news.csv line 3: value '3' in column 'label' is not in the label map (1, 2); add it "
                              "to the map as '3'=NAME")


@pytest.mark.parametrize(
    ("text", "message"),
    [("1=world,2", "Label map entry '2' needs the form value=label"),
     ("1=world,1=sports", "names the value '1' twice"), ("=x", "needs the form value=label")],
)
def test_bad_label_map_text(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_label_map(text)


def test_input_template_joins_columns(tmp_path):
    path = write(tmp_path, "ag.csv", "title,description,label\nRain,Floods in the north,1\nCup,{Final} tonight,2\n")
    mapping = ColumnMapping(input_template="{title}. {description} {{x}}", answer="label",
                            label_map=(("1", "world"), ("2", "sports")))
    pool = load_pool(path, mapping)
    assert [ex.input for ex in pool] == ["Rain. Floods in the north {x}", "Cup. {Final} tonight {x}"]
    assert template_columns("{title}. {description}") == ("title", "description")
    with pytest.raises(DataError) as err:
        load_pool(path, ColumnMapping(input_template="{title}: {body}", answer="label"))
    assert str(err.value) == ("ag.csv has no column 'body' for the input template's {body}; available columns: "
                              "title, description, label")
    with pytest.raises(ConfigError, match="names no column"):
        ColumnMapping(input_template="no placeholders")
    with pytest.raises(ConfigError, match="empty"):
        ColumnMapping(input_template="{} and {title}")


def test_unknown_input_or_answer_column_is_one_line(tmp_path):
    path = write(tmp_path, "news.csv", "text,label\nStocks fell,1\n")
    with pytest.raises(DataError) as err:
        load_pool(path)
    assert str(err.value) == "news.csv has no column 'question' for the input; available columns: text, label"
    with pytest.raises(DataError) as err:
        load_pool(path, ColumnMapping(input="text", answer="gold"))
    assert str(err.value) == "news.csv has no column 'gold' for the answer; available columns: text, label"


def _parquet(tmp_path: Path, name: str, columns: dict) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / name
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_with_numeric_labels_and_nested_choices(tmp_path):
    path = _parquet(tmp_path, "news.parquet", {"text": ["Stocks fell", "A goal", "Rain"], "label": [1, 2, 1],
                                               "score": [0.5, 1.5, None]})
    pool = load_pool(path, ColumnMapping(input="text", answer="label", label_map=(("1", "world"), ("2", "sports"))))
    assert [(ex.input, ex.answer) for ex in pool] == [("Stocks fell", "world"), ("A goal", "sports"), ("Rain", "world")]
    assert pool.name == "news"
    # Float labels written as 1.0 match the map's "1"; an upload of bytes works the same.
    floats = _parquet(tmp_path, "f.pq", {"question": ["a", "b"], "answer": [1.0, 2.0]})
    assert [ex.answer for ex in load_pool(("f.pq", floats.read_bytes()),
                                          ColumnMapping(label_map=(("1", "x"), ("2", "y"))))] == ["x", "y"]
    mc = _parquet(tmp_path, "mc.parquet", {"question": ["Sky?"], "answer": ["A"],
                                           "choices": [{"A": "blue", "B": "green"}]})
    assert load_pool(mc)[0].choices == {"A": "blue", "B": "green"}


def test_parquet_errors_name_the_file_and_row(tmp_path):
    path = _parquet(tmp_path, "news.parquet", {"text": ["Stocks fell", "A goal"], "label": [1, 7]})
    with pytest.raises(DataError) as err:
        load_pool(path, ColumnMapping(input="text", answer="label", label_map=(("1", "world"),)))
    assert str(err.value) == ("news.parquet row 2: value '7' in column 'label' is not in the label map (1); add it "
                              "to the map as '7'=NAME")
    with pytest.raises(DataError) as err:
        load_pool(path, ColumnMapping(input="body", answer="label"))
    assert str(err.value) == "news.parquet has no column 'body' for the input; available columns: text, label"
    broken = write(tmp_path, "broken.parquet", b"PAR1 not really parquet")
    with pytest.raises(DataError, match=r"^broken.parquet is not a readable Parquet file \(") as err:
        load_pool(broken)
    assert "\n" not in str(err.value)


def test_a_parquet_file_that_expands_past_the_limit_is_refused_as_it_is_read(tmp_path):
    """A few kB of compressed Parquet can hold gigabytes of rows (issue 34, item 14): the rows are read in
    batches and refused once they pass PARQUET_EXPANSION times the byte limit."""
    rows = 4_000
    path = _parquet(tmp_path, "bomb.parquet", {"question": ["q" * 10_000] * rows, "answer": ["a"] * rows})
    assert path.stat().st_size < 100_000  # ... and 40 MB of text once read
    with pytest.raises(DataError) as err:
        load_pool(path, max_bytes=1_000_000)
    assert str(err.value) == "bomb.parquet holds over 4 MB of data once decompressed; use a smaller file"
    with pytest.raises(DataError, match="once decompressed"):
        read_rows(("bomb.parquet", path.read_bytes()), max_bytes=1_000_000)
    assert len(load_pool(path, max_bytes=20_000_000)) == rows  # within 4 x 20 MB: read


def test_read_rows_previews_a_file_before_any_mapping(tmp_path):
    path = write(tmp_path, "news.csv", "text,label\nStocks fell,1\nA goal,2\n\nRain,1\n")
    table = read_rows(path)
    assert (table.filename, table.fmt, table.columns, table.where) == ("news.csv", "csv", ("text", "label"), "line")
    assert table.rows[0] == {"text": "Stocks fell", "label": "1"} and table.row_numbers == (2, 3, 5)
    assert table.values("label") == ("1", "2") and table.values("text", limit=2) == ("Stocks fell", "A goal")
    pq_table = read_rows(_parquet(tmp_path, "n.parquet", {"text": ["a", "b"], "label": [1.0, 2.0]}))
    assert (pq_table.fmt, pq_table.where, pq_table.values("label")) == ("parquet", "row", ("1.0", "2.0"))
    with pytest.raises(DataError, match=r"^e\.csv is empty$"):
        read_rows(write(tmp_path, "e.csv", " \n"))
