"""The JUnit XML report (workbench/junit.py): read back with ElementTree and checked against the structure CI tools
read (Jenkins' junit-4.xsd: testsuites > testsuite > properties, testcase > failure | error | skipped), with
hostile item ids and outputs. Small hand-made records; every count and message exact.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from workbench.evaluate.gate import Verdict
from workbench.junit import junit_xml, write_junit

#: The structure of Jenkins' junit-4.xsd (the schema its JUnit plugin and most CI readers follow), written out
#: for lxml: the elements, their order and the attributes this report uses.
SCHEMA = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
  <xs:complexType name="text" mixed="true">
    <xs:attribute name="type" type="xs:string"/>
    <xs:attribute name="message" type="xs:string"/>
  </xs:complexType>
  <xs:element name="testsuites">
    <xs:complexType>
      <xs:sequence><xs:element ref="testsuite" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
      <xs:attribute name="name" type="xs:string"/>
      <xs:attribute name="time" type="xs:decimal"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
    </xs:complexType>
  </xs:element>
  <xs:element name="testsuite">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="properties" minOccurs="0">
          <xs:complexType><xs:sequence>
            <xs:element name="property" minOccurs="0" maxOccurs="unbounded">
              <xs:complexType>
                <xs:attribute name="name" type="xs:string" use="required"/>
                <xs:attribute name="value" type="xs:string" use="required"/>
              </xs:complexType>
            </xs:element>
          </xs:sequence></xs:complexType>
        </xs:element>
        <xs:element name="testcase" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="skipped" type="text" minOccurs="0"/>
              <xs:element name="error" type="text" minOccurs="0" maxOccurs="unbounded"/>
              <xs:element name="failure" type="text" minOccurs="0" maxOccurs="unbounded"/>
              <xs:element name="system-out" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>
              <xs:element name="system-err" type="xs:string" minOccurs="0" maxOccurs="unbounded"/>
            </xs:sequence>
            <xs:attribute name="name" type="xs:string" use="required"/>
            <xs:attribute name="classname" type="xs:string"/>
            <xs:attribute name="time" type="xs:decimal"/>
          </xs:complexType>
        </xs:element>
        <xs:element name="system-out" type="xs:string" minOccurs="0"/>
        <xs:element name="system-err" type="xs:string" minOccurs="0"/>
      </xs:sequence>
      <xs:attribute name="name" type="xs:string" use="required"/>
      <xs:attribute name="tests" type="xs:nonNegativeInteger" use="required"/>
      <xs:attribute name="failures" type="xs:nonNegativeInteger"/>
      <xs:attribute name="errors" type="xs:nonNegativeInteger"/>
      <xs:attribute name="skipped" type="xs:nonNegativeInteger"/>
      <xs:attribute name="time" type="xs:decimal"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def check_structure(xml: str) -> ET.Element:
    """Parse the report and check what CI readers rely on: the root, each suite's properties first, its counts
    equal to its testcases' outcomes, the root's the suites' sums; each testcase named, with at most one outcome.
    Validated against :data:`SCHEMA` too where lxml is installed."""
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(xml.encode("utf-8"))
    assert root.tag == "testsuites"
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        children = [c.tag for c in suite]
        assert children[0] == "properties" and set(children[1:]) <= {"testcase"}
        cases = suite.findall("testcase")
        counts = {"tests": len(cases), "failures": sum(c.find("failure") is not None for c in cases),
                  "errors": sum(c.find("error") is not None for c in cases),
                  "skipped": sum(c.find("skipped") is not None for c in cases)}
        assert {k: int(suite.get(k)) for k in counts} == counts
        for k in totals:
            totals[k] += counts[k]
        for case in cases:
            assert case.get("name") and case.get("classname") and float(case.get("time")) >= 0
            assert len(case) <= 1
            for outcome in case:
                assert outcome.tag in ("failure", "error", "skipped") and outcome.get("message")
    assert {k: int(root.get(k)) for k in totals} == totals
    try:
        from lxml import etree
    except ImportError:
        return root
    schema = etree.XMLSchema(etree.fromstring(SCHEMA.encode()))
    doc = etree.fromstring(xml.encode("utf-8"))
    assert schema.validate(doc), schema.error_log
    return root


def record(strategy: str, item: str, correct: bool, **extra) -> dict:
    return {"strategy": strategy, "item_index": 0, "id": item, "correct": correct, "gold": "positive",
            "extracted": "positive" if correct else "negative", "output": " positive" if correct else " negative",
            "seconds": 0.5, **extra}


def test_a_suite_per_strategy_a_testcase_per_item_and_the_gate_suite():
    records = [record("zero", "r1", True), record("zero", "r2", False), record("knn4", "r1", True),
               record("knn4", "r2", True, checks=[{"type": "llm-rubric", "passed": False, "score": 0.0,
                                                   "reason": "no reply", "error": "the judge's reply is not JSON"}])]
    verdicts = [Verdict("--fail-under", "zero", False, "zero 50.0% < 80.0% (--fail-under)"),
                Verdict("--fail-under", "knn4", True, "knn4 100.0% >= 80.0% (--fail-under)"),
                Verdict("--fail-if-worse", "knn4", True, "knn4: run 2 has no strategy of this name; not compared "
                                                         "(--fail-if-worse)", skipped=True)]
    xml = junit_xml(records, run_id=9, status="finished", models={"zero": "gemma-3-270m", "knn4": "gemma-3-270m"},
                    verdicts=verdicts)
    root = check_structure(xml)
    assert root.attrib == {"name": "workbench eval", "tests": "7", "failures": "2", "errors": "1", "time": "2.000"}
    zero, knn4, gate = root
    assert zero.attrib == {"name": "zero", "tests": "2", "failures": "1", "errors": "0", "skipped": "0",
                           "time": "1.000"}
    assert [(p.get("name"), p.get("value")) for p in zero.find("properties")] == [
        ("run_id", "9"), ("model", "gemma-3-270m"), ("status", "finished")]
    r1, r2 = zero.findall("testcase")
    assert r1.attrib == {"name": "r1", "classname": "zero", "time": "0.500"} and len(r1) == 0
    (failure,) = r2
    assert failure.attrib == {"message": "expected 'positive', got 'negative'", "type": "failed"}
    assert failure.text == "expected: positive\nanswer: negative\noutput:  negative"
    (error,) = knn4.findall("testcase")[1]
    assert error.tag == "error" and error.attrib == {"message": "llm-rubric: the judge's reply is not JSON",
                                                     "type": "check-error"}
    assert gate.get("name") == "gate" and (gate.get("tests"), gate.get("failures"), gate.get("skipped")) == \
        ("3", "1", "1")
    cases = gate.findall("testcase")
    assert [c.get("name") for c in cases] == ["--fail-under zero", "--fail-under knn4", "--fail-if-worse knn4"]
    assert [(c[0].tag, c[0].get("message")) for c in cases if len(c)] == [
        ("failure", "zero 50.0% < 80.0% (--fail-under)"),
        ("skipped", "knn4: run 2 has no strategy of this name; not compared (--fail-if-worse)")]


def test_failed_checks_give_their_reasons_and_repeats_are_named():
    checks = [{"type": "icontains", "passed": False, "score": 0.0, "reason": "output does not contain 'paris'"},
              {"type": "is-json", "passed": True, "score": 1.0, "reason": "valid JSON"},
              {"type": "not-contains", "passed": False, "score": 0.0, "reason": "output contains 'Rome'"}]
    records = [record("s", "row-1", False, checks=checks, repeat=0), record("s", "row-1", True, repeat=1)]
    root = check_structure(junit_xml(records, run_id=None, status="finished", models={}))
    first, second = root[0].findall("testcase")
    assert (first.get("name"), second.get("name")) == ("row-1 (repeat 1)", "row-1 (repeat 2)")
    assert first[0].get("message") == "icontains: output does not contain 'paris'; not-contains: output contains 'Rome'"
    assert first[0].text.splitlines()[2:5] == ["check icontains: FAIL output does not contain 'paris'",
                                              "check is-json: pass valid JSON",
                                              "check not-contains: FAIL output contains 'Rome'"]
    # No run id, no model: those properties are left out, not written as "None".
    assert [p.get("name") for p in root[0].find("properties")] == ["status"]


HOSTILE = "</testcase><testcase name=\"x\">]]>&amp;\x1b[2J\x00\x07\ud800\ufffe\x85'\"<!--"


def test_hostile_ids_and_outputs_are_escaped_and_stripped(tmp_path):
    records = [record(f"s{HOSTILE}", f"id{HOSTILE}", False, output=f"out{HOSTILE}", gold=f"g{HOSTILE}")]
    verdicts = [Verdict("--fail-under", f"s{HOSTILE}", False, f"s{HOSTILE} 0.0% < 80.0% (--fail-under)")]
    xml = junit_xml(records, run_id=1, status="finished", models={f"s{HOSTILE}": f"m{HOSTILE}"}, verdicts=verdicts)
    path = write_junit(tmp_path / "report.xml", xml)
    root = check_structure(path.read_text(encoding="utf-8"))
    kept = "</testcase><testcase name=\"x\">]]>&amp;[2J'\"<!--"  # the markup survives as text; the controls do not
    suite, _ = root
    (case,) = suite.findall("testcase")
    assert (suite.get("name"), case.get("name"), case.get("classname")) == (f"s{kept}", f"id{kept}", f"s{kept}")
    # The one-line message quotes the texts as Python does (controls written as \x1b, visible and harmless).
    assert case[0].get("message") == f"expected {'g' + HOSTILE!r}, got 'negative'"
    assert case[0].text.endswith(f"output: out{kept}")
    assert suite.find("properties")[1].get("value") == f"m{kept}"
    assert root[1].find("testcase")[0].get("message") == f"s{kept} 0.0% < 80.0% (--fail-under)"
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary file left


def test_a_long_output_is_cut_in_the_body_and_the_message(tmp_path):
    long = "word " * 10_000
    (case,) = check_structure(junit_xml([record("s", "a", False, gold=long)], run_id=1, status="finished",
                                        models={}))[0].findall("testcase")
    assert len(case[0].get("message")) == 1001 and case[0].get("message").endswith("…")
    assert len(case[0].text) == 20_001


def test_an_unwritable_report_is_one_line(tmp_path):
    from workbench.errors import DataError

    (tmp_path / "report.xml").mkdir()
    with pytest.raises(DataError) as err:
        write_junit(tmp_path / "report.xml", "<testsuites/>")
    assert str(err.value) == f"cannot write {tmp_path / 'report.xml'}: Is a directory"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xml"]  # the temporary file is gone
