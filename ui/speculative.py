"""Widgets of the Speculative Decoding page: settings, the run, the coloured output and the acceptance table."""

from __future__ import annotations

import html
import statistics

import pandas as pd
import streamlit as st

from ui.fields import number_field
from workbench.errors import WorkbenchError
from workbench.speculative.examples import examples as speculative_examples
from workbench.speculative.records import ORIGIN_MEANING, Comparison, SpeculativeConfig, SpeculativeResult, Timing
from workbench.speculative.runs import compare
from workbench.words import plural

#: Background colour of each origin in the coloured output.
COLOURS = {"accepted": "#c8f7c5", "rejected": "#f9c6c6", "target": "#dde3ee"}

EXPLANATION = """
**Why it is lossless.** Each verification step sends the drafted tokens through the target model in *one* pass,
which gives the target's distribution *p* at every draft position at once. Under greedy decoding a draft token is
kept only while it equals the target's own argmax, so the text is the target's greedy text. Under sampling, the
rule of Leviathan et al. (2023) and Chen et al. (2023) keeps a draft token *x* (drawn from the drafter's *q*) with
probability min(1, p(x)/q(x)); at the first rejection it draws from the residual max(p − q, 0), renormalised, and
stops. Then P(y) = min(p, q)(y) + max(p − q, 0)(y) = p(y): every output token follows the target's distribution,
whatever the drafter proposed — a bad drafter only costs speed. Prompt lookup is a deterministic drafter
(q is one-hot on the copied token), so *x* is kept with probability p(x). The test suite checks this with a
chi-square test over thousands of seeded draws against the target's own next-token probabilities.

**When it pays.** A step costs about one target pass whatever the draft length (the model reads the weights once
for all positions), so the speed-up follows the acceptance rate: text that copies its input (editing, extraction,
renaming code) accepts long drafts; free creative text rejects nearly all of them and only pays the overhead.
On a CPU with a large vocabulary (Gemma's 262,144 tokens) the output layer is a large part of each position's
cost, so verifying many positions is not free: measure, as the figures below do.

**Medusa heads** (Cai et al., 2024) drop the separate drafter: a few extra decoding heads on the target's last
hidden state each predict the token 1, 2, 3… positions ahead, and a tree of their top candidates is verified in one
pass with a tree attention mask. Drafting then costs almost nothing and needs no second model or copyable prompt,
but the heads must be trained for each target model (Medusa-1 on a frozen model, Medusa-2 jointly). The workbench
ships no Medusa heads.
"""


def settings(backend) -> tuple[str, SpeculativeConfig | None, int]:
    """The prompt (an example or typed), the drafting settings and the repeats, from the widgets."""
    examples = speculative_examples()
    names = [f"{e.title} ({e.kind})" for e in examples]
    pick = st.selectbox("Example prompt", names, key="spec_example",
                        help="Copy-heavy prompts repeat their input, so prompt lookup drafts well; the creative one "
                             "does not.")
    example = examples[names.index(pick)]
    if st.session_state.get("spec_loaded") != example.id:  # a newly picked example replaces the prompt
        st.session_state["spec_prompt"] = example.prompt
        st.session_state["spec_loaded"] = example.id
    prompt = st.text_area("Prompt (the exact text sent)", key="spec_prompt", height=180)
    c1, c2, c3 = st.columns(3)
    methods = ["prompt-lookup"]
    if backend is not None and (offered := backend.speculation()) is not None and offered.draft_models:
        methods.append("draft model")
    method = c1.radio("Drafting", methods, key="spec_method", horizontal=True,
                      help="A draft model needs the transformers backend (llama-cpp-python ships prompt lookup).")
    # number_field, not Streamlit's bounds: a value out of range is a red line saying why, not silently refused.
    draft_tokens, bad_k = number_field(c2, "Draft tokens per step", 10, key="spec_k",
                                       check=lambda v: SpeculativeConfig(draft_tokens=int(v)))
    ngram, bad_n = number_field(c3, "n-gram size", 2, key="spec_ngram", disabled=method != "prompt-lookup",
                                check=lambda v: SpeculativeConfig(ngram_size=int(v)))
    repeats, bad_runs = number_field(st, "Timed runs of each (interleaved, medians)", 1, key="spec_runs", lo=1, hi=9)
    chosen = "prompt-lookup"
    if method == "draft model":
        model = st.text_input("Draft model (registry id or local path)", "smollm2-135m-instruct", key="spec_draft")
        chosen = f"draft:{model}"
    if bad_k or bad_n or bad_runs:
        return prompt, None, repeats
    try:
        return prompt, SpeculativeConfig(method=chosen, draft_tokens=int(draft_tokens), ngram_size=int(ngram)), \
            repeats
    except WorkbenchError as err:
        st.error(str(err), icon="⚠️")
        return prompt, None, repeats


def run(backend, prompt: str, cfg, spec: SpeculativeConfig, repeats: int) -> None:
    """Speculative and plain decoding side by side; the comparison lands in session state."""
    with st.status("Running plain and speculative decoding…") as status:
        st.session_state["spec_result"] = compare(backend, prompt, cfg, spec, repeats=repeats)
        status.update(label="Done", state="complete")


def coloured(result: SpeculativeResult) -> str:
    """The output as HTML, each token on the background of its origin (text escaped)."""
    spans = []
    for t in result.tokens:
        title = t.origin if t.drafted is None or t.origin == "accepted" else f"rejected draft id {t.drafted}"
        spans.append(f'<span class="spec-tok spec-{t.origin}" title="{html.escape(title)}" '
                     f'style="background:{COLOURS[t.origin]}">{html.escape(t.text)}</span>')
    return ('<div class="spec-out wb-scroll" style="white-space:pre-wrap;font-family:monospace;font-size:0.9rem;'
            'line-height:1.6">' + "".join(spans) + "</div>")


def legend() -> str:
    return " ".join(f'<span style="background:{COLOURS[o]};padding:0 4px">{o}</span> {html.escape(m)}<br>'
                    for o, m in ORIGIN_MEANING.items())


def steps_table(result: SpeculativeResult) -> pd.DataFrame:
    return pd.DataFrame([{"step": i + 1, "drafted": s.drafted, "accepted": s.accepted, "tokens produced": s.produced}
                         for i, s in enumerate(result.steps)])


def _seconds(timing: Timing) -> str:
    """One way's run times in words: "1.02 s" for one run, "1.02 s (median of 3 runs: 0.98, 1.02 and 1.10 s)"."""
    runs = sorted(timing.seconds)
    if not runs:
        return "not timed"
    median = statistics.median(runs)
    if len(runs) == 1:
        return f"{median:.2f} s"
    listed = ", ".join(f"{s:.2f}" for s in runs[:-1]) + f" and {runs[-1]:.2f}"
    return f"{median:.2f} s (median of {len(runs)} runs: {listed} s)"


def timing_sentence(cmp: Comparison) -> str:
    """What was timed, in words: each way's label, its tokens and its time."""
    spec, plain = cmp.speculative, cmp.plain
    return (f"Speculative, {spec.label}: {plural(spec.completion_tokens, 'token')} in {_seconds(spec)}. "
            f"Plain decoding, {plain.label.removeprefix('plain').strip(' ()') or 'no drafts'}: "
            f"{plural(plain.completion_tokens, 'token')} in {_seconds(plain)}.")


def show(cmp: Comparison) -> None:
    c = st.columns(4)
    c[0].metric("Plain tokens/s", f"{cmp.plain.tokens_per_second:.1f}")
    c[1].metric("Speculative tokens/s", f"{cmp.speculative.tokens_per_second:.1f}")
    c[2].metric("Speed ratio", f"{cmp.speed_ratio:.2f}×")
    c[3].metric("Same text as plain", "yes" if cmp.same_text else "no")
    st.caption(timing_sentence(cmp))
    t = cmp.trace
    if t is None:
        st.info("transformers' assisted generation does not report which tokens it accepted; the coloured output "
                "is traced for prompt lookup.")
        st.code(cmp.speculative.text, language=None)
        return
    c = st.columns(4)
    c[0].metric("Acceptance rate", f"{t.acceptance_rate:.0%}", help=f"{t.accepted} of {t.drafted} drafted tokens")
    c[1].metric("Target passes", t.target_passes, help=f"for {len(t.tokens)} tokens")
    c[2].metric("Passes saved", t.passes_saved)
    c[3].metric("Traced text = plain", "yes" if t.text == cmp.plain.text else "no")
    st.markdown(coloured(t), unsafe_allow_html=True)
    st.markdown(legend(), unsafe_allow_html=True)
    counts = t.counts
    st.caption(f"{counts['accepted']} accepted, {counts['rejected']} at rejected drafts, {counts['target']} from the "
               f"target = {len(t.tokens)} tokens")
    st.dataframe(steps_table(t), hide_index=True, key="spec_steps")
