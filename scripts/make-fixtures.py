#!/usr/bin/env python3
"""Golden fixtures from the reference implementation (llama.cpp, through llama-cpp-python).

For each catalog model it writes tests/fixtures/golden/<name>.json with
  - tokens: token ids of every line of tests/fixtures/tokenizer-corpus.txt
    (add_special=False, parse_special=False), plus a few lines with special
    tokens parsed (parse_special=True) and with BOS added (add_special=True);
  - greedy: for each prompt, the 64 greedy tokens (temperature 0, raw prompt,
    no chat template, BOS as the file says) and, for every step, the gap
    between the reference's top-1 and top-2 logits;
  - logits: the top-20 (id, logit) of the first generation step per prompt.

Usage (llama-cpp-python importable, models in the store):
  EDGELLM_MODELS=~/.cache/edgellm-ci/models python3 scripts/make-fixtures.py [catalog names...]

The reference used for the committed fixtures: llama-cpp-python 0.3.36 (vendored llama.cpp
0c1e57098), built from the PyPI sdist with GGML_NATIVE=ON on an x86-64 AVX2 machine,
n_threads=1, n_batch=512, default context options (f16 KV cache).
"""
import hashlib
import json
import os
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORE = os.environ.get("EDGELLM_MODELS", os.path.expanduser("~/.local/share/edgellm/models"))
MODELS = {
    "smollm2:135m": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "gemma3:270m": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    "qwen2.5-coder:0.5b": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    "qwen2.5-coder:1.5b": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
}
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "O Brasil é um país",
    "Here is a list of the planets in our solar system:\n1.",
    "The three primary colors are",
]
SPECIAL_LINES = [
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "<|endoftext|>text after eos<|endoftext|>",
    "<bos>hello<eos>",
]
N_GEN = 64


def main():
    names = sys.argv[1:] or list(MODELS)
    corpus = open(os.path.join(ROOT, "tests/fixtures/tokenizer-corpus.txt"), encoding="utf-8").read().split("\n")
    if corpus and corpus[-1] == "":
        corpus.pop()
    out_dir = os.path.join(ROOT, "tests/fixtures/golden")
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        sha = MODELS[name]
        path = os.path.join(STORE, "blobs", "sha256-" + sha)
        llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_batch=512, n_threads=1, logits_all=True, verbose=False)
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        eogs = {i for i in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, i)}
        tok = lambda text, add, special: llm.tokenize(text.encode("utf-8"), add_bos=add, special=special)
        fx = {
            "model": name,
            "sha256": sha,
            "reference": f"llama-cpp-python {llama_cpp.__version__}",
            "command": "python3 scripts/make-fixtures.py " + name,
            "tokens": {
                "corpus": [tok(line, False, False) for line in corpus],
                "special": [{"text": t, "ids": tok(t, False, True)} for t in SPECIAL_LINES],
                "with_bos": [{"text": t, "ids": tok(t, True, False)} for t in corpus[:5]],
            },
            "greedy": [],
            "logits": [],
        }
        for prompt in PROMPTS:
            ids = tok(prompt, True, True)
            llm.reset()
            llm.eval(ids)
            gen, gaps = [], []
            for step in range(N_GEN):
                logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
                order = np.argsort(-logits, kind="stable")
                if step == 0:
                    fx["logits"].append(
                        {"prompt": prompt, "top20": [[int(i), float(logits[i])] for i in order[:20]]}
                    )
                t = int(order[0])
                gen.append(t)
                gaps.append(float(logits[order[0]] - logits[order[1]]))
                if t in eogs:
                    break
                llm.eval([t])
            fx["greedy"].append({"prompt": prompt, "prompt_ids": ids, "tokens": gen, "top2_gap": gaps})
            print(f"{name}: {prompt!r} -> {llm.detokenize(gen)[:80]!r}", file=sys.stderr)
        with open(os.path.join(out_dir, name.replace(":", "-") + ".json"), "w", encoding="utf-8") as f:
            json.dump(fx, f, ensure_ascii=False, indent=None, separators=(",", ":"))
            f.write("\n")
        del llm


if __name__ == "__main__":
    main()
