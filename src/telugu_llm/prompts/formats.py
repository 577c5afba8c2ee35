"""Prompt formats (templates) and the tokenization of a training example.

The study's two formats (its Listings 2 and 3) and the tokenizer's own chat template. A template
turns a conversation (alternating Human/Assistant turns) into a prompt and a completion: the
completion is the last Assistant turn, everything before it is prompt, so training can mask the
prompt. Multi-turn conversations keep all turns.

BOS and EOS are never written as text ("<s>", "</s>"): a tokenizer that adds BOS would add a second
one (pitfall 3), and the text "</s>" is not reliably the EOS id. `tokenize_example` adds them as ids:
one BOS first (where the tokenizer uses one), EOS last, always (pitfall 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

STUDY_TEMPLATES = {
    # Listing 2: <s>[INST] {human_text} [/INST] {assistant_text} </s>
    "llama2_study": {"human": "[INST] {content} [/INST]", "assistant": " {content}", "between": " "},
    # Listing 3: ###Human: {human_text} ###Assistant: {assistant_text}
    "mistral_study": {"human": "###Human: {content} ###Assistant:", "assistant": " {content}", "between": " "},
}
CHAT_TEMPLATE = "chat_template"
TEMPLATES = (*STUDY_TEMPLATES, CHAT_TEMPLATE)
IGNORE_INDEX = -100


@dataclass(frozen=True)
class Rendered:
    prompt: str
    completion: str

    @property
    def text(self) -> str:
        return self.prompt + self.completion


def check_turns(turns: list[tuple[str, str]]) -> None:
    roles = [r for r, _ in turns]
    if not roles or roles[0] != "Human" or roles[-1] != "Assistant" or any(a == b for a, b in zip(roles, roles[1:])):
        raise ValueError(f"turns must alternate Human/Assistant and end with Assistant, got {roles}")


def render_study(template: str, turns: list[tuple[str, str]]) -> Rendered:
    """One of the study's formats; earlier exchanges joined by a space into the prompt."""
    check_turns(turns)
    fmt = STUDY_TEMPLATES[template]
    pieces = [fmt["human" if role == "Human" else "assistant"].format(content=content) for role, content in turns]
    prompt = pieces[0]
    for piece, (role, _) in zip(pieces[1:-1], turns[1:-1]):
        prompt += (fmt["between"] + piece) if role == "Human" else piece
    return Rendered(prompt, pieces[-1])


def render_chat(tokenizer, turns: list[tuple[str, str]]) -> Rendered:
    """The tokenizer's own chat template (`apply_chat_template`); the completion is what the
    template adds for the last Assistant turn, without a trailing EOS (added as an id)."""
    check_turns(turns)
    if not getattr(tokenizer, "chat_template", None):
        raise InputError(f"template {CHAT_TEMPLATE}: the tokenizer {tokenizer.name_or_path} has no chat template")
    messages = [{"role": "user" if r == "Human" else "assistant", "content": c} for r, c in turns]
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise InputError(f"template {CHAT_TEMPLATE}: the chat template of {tokenizer.name_or_path} does not extend "
                         "the prompt with the answer; it cannot be split into prompt and completion")
    completion = full[len(prompt):]
    if tokenizer.bos_token and prompt.startswith(tokenizer.bos_token) and adds_bos(tokenizer):
        prompt = prompt[len(tokenizer.bos_token):]
    eos = tokenizer.eos_token
    if eos and eos in completion:
        completion = completion[: completion.rindex(eos)]
    return Rendered(prompt, completion)


def render(template: str, turns: list[tuple[str, str]], tokenizer=None) -> Rendered:
    if template in STUDY_TEMPLATES:
        return render_study(template, turns)
    if template == CHAT_TEMPLATE:
        return render_chat(tokenizer, turns)
    raise InputError(f"unknown template {template!r}; templates: {', '.join(TEMPLATES)}")


def adds_bos(tokenizer) -> bool:
    """Whether the tokenizer starts a sequence with its BOS by its own convention."""
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a").input_ids[:1] == [bos]


def tokenize_example(tokenizer, prompt: str, completion: str, *, bos: bool | None = None) -> tuple[list[int], list[int]]:
    """(input_ids, labels): [BOS] + prompt + completion + [EOS], prompt (and BOS) masked with -100.

    BOS is added when the tokenizer uses one by convention (or `bos` says so) and the prompt does
    not already start with it; EOS is always last, and the completion stops at its first EOS."""
    p = tokenizer(prompt, add_special_tokens=False).input_ids
    c = tokenizer(completion, add_special_tokens=False).input_ids
    bos_id, eos_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    if eos_id is None:
        raise InputError(f"tokenizer {tokenizer.name_or_path} has no EOS token; generation could never stop")
    if (adds_bos(tokenizer) if bos is None else bos) and bos_id is not None and p[:1] != [bos_id]:
        p = [bos_id] + p
    if eos_id in c:
        c = c[: c.index(eos_id)]
    c = c + [eos_id]
    return p + c, [IGNORE_INDEX] * len(p) + c


def tokenize_examples(tokenizer, prompts: list[str], completions: list[str], *,
                      bos: bool | None = None) -> list[tuple[list[int], list[int]]]:
    """`tokenize_example` of each (prompt, completion), in two batched tokenizer calls (the Rust
    tokenizer's threads) instead of two calls per example."""
    if tokenizer.eos_token_id is None:
        raise InputError(f"tokenizer {tokenizer.name_or_path} has no EOS token; generation could never stop")
    bos_id, eos_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    add_bos = (adds_bos(tokenizer) if bos is None else bos) and bos_id is not None
    out = []
    for p, c in zip(tokenizer(prompts, add_special_tokens=False).input_ids,
                    tokenizer(completions, add_special_tokens=False).input_ids):
        if add_bos and p[:1] != [bos_id]:
            p = [bos_id] + p
        if eos_id in c:
            c = c[: c.index(eos_id)]
        c = c + [eos_id]
        out.append((p + c, [IGNORE_INDEX] * len(p) + c))
    return out


def check_example(tokenizer, input_ids: list[int], labels: list[int], *, single_bos: bool) -> None:
    """The invariants every training example keeps (pitfalls 1 and 3); raises AssertionError."""
    bos_id, eos_id = tokenizer.bos_token_id, tokenizer.eos_token_id
    assert len(input_ids) == len(labels), "labels and input_ids differ in length"
    assert input_ids[-1] == eos_id and labels[-1] == eos_id, "the last token, and the last label, must be EOS"
    if adds_bos(tokenizer):
        assert input_ids[0] == bos_id and input_ids[1:2] != [bos_id], "exactly one BOS must open the example"
        if single_bos:
            assert input_ids.count(bos_id) == 1, f"{input_ids.count(bos_id)} BOS tokens in one example"
    trained = [i for i, label in enumerate(labels) if label != IGNORE_INDEX]
    assert trained and trained == list(range(trained[0], len(labels))), "the completion must be one trained span at the end"
    assert all(labels[i] == input_ids[i] for i in trained), "trained labels must equal the input ids"
