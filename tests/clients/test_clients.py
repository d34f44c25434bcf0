"""edgellm serve driven by the real client libraries: ollama-python and openai.

Every answer is checked for content: greedy answers equal the CLI's greedy
answer for the same prompt, streams equal non-streamed answers, stop strings
cut where the unstopped answer has them.
"""
import concurrent.futures as cf
import json
import pathlib
import socket
import time
import urllib.request

import httpx
import ollama
import openai
import pytest

from conftest import MODEL, Server, cli_greedy

QUESTION = "What is the capital of France?"
G = {"temperature": 0}


def oc(server):
    return ollama.Client(host=server.url)


def oa(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused")


# ---------------------------------------------------------------- Ollama API


def test_generate_greedy_equals_cli(server):
    want = cli_greedy(QUESTION, 24)
    r = oc(server).generate(model=MODEL, prompt=QUESTION, options={**G, "num_predict": 24})
    assert r.response.rstrip("\n") == want
    assert r.done and r.done_reason in ("stop", "length")
    assert r.eval_count <= 24 and r.prompt_eval_count > 0
    assert r.total_duration >= r.eval_duration > 0
    assert r.context and len(r.context) >= r.prompt_eval_count


def test_streaming_equals_non_streaming(server):
    c = oc(server)
    whole = c.generate(model=MODEL, prompt="Name three colors.", options={**G, "num_predict": 20})
    parts = list(c.generate(model=MODEL, prompt="Name three colors.", options={**G, "num_predict": 20}, stream=True))
    assert "".join(p.response for p in parts) == whole.response
    assert parts[-1].done and not any(p.done for p in parts[:-1])
    assert parts[-1].eval_count == whole.eval_count


def test_system_prompt_equals_cli(server):
    system = "You are a pirate. Answer in pirate speak."
    want = cli_greedy("Hello, who are you?", 20, system=system)
    r = oc(server).generate(model=MODEL, prompt="Hello, who are you?", system=system, options={**G, "num_predict": 20})
    assert r.response.rstrip("\n") == want
    plain = oc(server).generate(model=MODEL, prompt="Hello, who are you?", options={**G, "num_predict": 20})
    assert plain.response != r.response


def test_chat_multi_turn_and_prefix_reuse(server):
    c = oc(server)
    msgs = [{"role": "user", "content": "My name is Ana. Remember it."}]
    first = c.chat(model=MODEL, messages=msgs, options={**G, "num_predict": 16})
    assert first.message.role == "assistant" and first.message.content
    msgs += [{"role": "assistant", "content": first.message.content},
             {"role": "user", "content": "What is my name?"}]
    second = c.chat(model=MODEL, messages=msgs, options={**G, "num_predict": 16})
    # The conversation continues in the same slot: only the new turn is read.
    full = c.chat(model=MODEL, messages=msgs, options={**G, "num_predict": 16, "num_ctx": 2048})
    assert second.message.content == full.message.content
    assert second.prompt_eval_count < full.prompt_eval_count
    streamed = "".join(p.message.content for p in c.chat(model=MODEL, messages=msgs, options={**G, "num_predict": 16}, stream=True))
    assert streamed == second.message.content


def test_stop_strings_cut_without_leaking(server):
    c = oc(server)
    prompt = "Count: 1, 2, 3, 4, 5, 6, 7, 8"
    full = c.generate(model=MODEL, prompt=prompt, raw=True, options={**G, "num_predict": 24}).response
    assert "11" in full, full
    cut = c.generate(model=MODEL, prompt=prompt, raw=True, options={**G, "num_predict": 24, "stop": ["11"]})
    assert cut.response == full[: full.index("11")]
    assert cut.done_reason == "stop"
    streamed = "".join(p.response for p in c.generate(model=MODEL, prompt=prompt, raw=True, stream=True, options={**G, "num_predict": 24, "stop": ["11"]}))
    assert streamed == cut.response


def test_seed_reproducibility(server):
    c = oc(server)
    o = {"temperature": 0.9, "num_predict": 24}
    a = c.generate(model=MODEL, prompt="Write a short poem about the sea.", options={**o, "seed": 42})
    b = c.generate(model=MODEL, prompt="Write a short poem about the sea.", options={**o, "seed": 42})
    d = c.generate(model=MODEL, prompt="Write a short poem about the sea.", options={**o, "seed": 7})
    assert a.response == b.response
    assert a.response != d.response


def test_num_predict(server):
    r = oc(server).generate(model=MODEL, prompt="1, 2, 3,", raw=True, options={**G, "num_predict": 5})
    assert r.eval_count == 5 and r.done_reason == "length"


def test_list_show_ps_version(server):
    c = oc(server)
    names = [m.model for m in c.list().models]
    assert MODEL in names
    s = c.show(MODEL)
    assert s.details.family == "llama" and s.details.quantization_level == "Q4_1"
    assert s.modelinfo["general.architecture"] == "llama"
    assert "completion" in s.capabilities
    c.generate(model=MODEL, prompt="hi", options={"num_predict": 1})
    ps = c.ps().models
    assert [m.model for m in ps] == [MODEL]
    assert ps[0].size > 0 and ps[0].context_length == 8192
    v = httpx.get(server.url + "/api/version").json()["version"]
    assert tuple(int(x) for x in v.split(".")) >= (0, 6, 4)


def test_load_and_unload_with_keep_alive():
    s = Server("--parallel", "1")
    try:
        c = ollama.Client(host=s.url)
        assert c.ps().models == []
        r = c.generate(model=MODEL, prompt="")
        assert r.done and r.done_reason == "load"
        assert [m.model for m in c.ps().models] == [MODEL]
        r = c.generate(model=MODEL, prompt="", keep_alive=0)
        assert r.done_reason == "unload"
        assert c.ps().models == []
        # A request with keep_alive 0 unloads once it is done.
        c.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 2}, keep_alive=0)
        deadline = time.time() + 10
        while c.ps().models and time.time() < deadline:
            time.sleep(0.1)
        assert c.ps().models == []
        # Health is 200 when idle.
        assert httpx.get(s.url + "/health").status_code == 200
    finally:
        s.stop()


def test_errors_have_ollamas_shape(server):
    c = oc(server)
    with pytest.raises(ollama.ResponseError) as e:
        c.generate(model="no-such-model:1b", prompt="hi")
    assert e.value.status_code == 404 and "not found" in e.value.error
    r = httpx.post(server.url + "/api/generate", content=b"{not json")
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]
    r = httpx.post(server.url + "/api/generate", json={"model": MODEL, "prompt": "x", "temprature": 1})
    assert r.status_code == 400 and "temprature" in r.json()["error"]
    r = httpx.post(server.url + "/api/generate", json={"model": MODEL, "prompt": "x", "options": {"temprature": 1}})
    assert r.status_code == 400 and "temprature" in r.json()["error"]
    long = "word " * 200
    with pytest.raises(ollama.ResponseError) as e:
        c.generate(model=MODEL, prompt=long, raw=True, options={"num_ctx": 64})
    assert e.value.status_code == 400
    assert "64" in e.value.error and "tokens" in e.value.error
    r = httpx.post(server.url + "/api/embed", json={"model": MODEL, "input": "hi"})
    assert r.status_code == 400 and "does not support embeddings" in r.json()["error"]


# ---------------------------------------------------------------- OpenAI API


def test_openai_chat_equals_ollama_chat(server):
    msgs = [{"role": "user", "content": QUESTION}]
    o = oc(server).chat(model=MODEL, messages=msgs, options={**G, "num_predict": 24})
    r = oa(server).chat.completions.create(model=MODEL, messages=msgs, temperature=0, max_tokens=24)
    assert r.choices[0].message.content == o.message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens == o.eval_count
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_openai_chat_stream_with_usage(server):
    c = oa(server)
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
    whole = c.chat.completions.create(model=MODEL, messages=msgs, temperature=0, max_tokens=16)
    chunks = list(c.chat.completions.create(model=MODEL, messages=msgs, temperature=0, max_tokens=16,
                                            stream=True, stream_options={"include_usage": True}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]


def test_openai_completions_and_stop(server):
    c = oa(server)
    r = c.completions.create(model=MODEL, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0)
    full = r.choices[0].text
    assert full.startswith(" 5, 6")
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(
        model=MODEL, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0, stream=True) if ch.choices)
    assert streamed == full
    cut = c.completions.create(model=MODEL, prompt="1, 2, 3, 4,", max_tokens=12, temperature=0, stop=[" 7"])
    assert cut.choices[0].text == full[: full.index(" 7")]
    assert cut.choices[0].finish_reason == "stop"


def test_openai_seed_and_models(server):
    c = oa(server)
    kw = dict(model=MODEL, messages=[{"role": "user", "content": "Tell me a story."}], temperature=1.0, max_tokens=20)
    a = c.chat.completions.create(seed=11, **kw).choices[0].message.content
    b = c.chat.completions.create(seed=11, **kw).choices[0].message.content
    assert a == b
    ids = [m.id for m in c.models.list().data]
    assert MODEL in ids
    assert c.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve("no-such-model")


def test_openai_errors(server):
    c = oa(server)
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], extra_body={"bogus_field": 1})
    assert "bogus_field" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        c.embeddings.create(model=MODEL, input="hi")
    assert "embeddings" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        c.completions.create(model=MODEL, prompt="word " * 5000, max_tokens=4)
    assert "4096" in str(e.value) and "5001" in str(e.value)
    r = httpx.post(server.url + "/v1/chat/completions", content=b"[")
    assert r.status_code == 400 and "error" in r.json() and "message" in r.json()["error"]


# ------------------------------------------------------------- concurrency


PROMPTS = [
    "The capital of France is", "def add(a, b):", "Once upon a time", "The three primary colors are",
    "1, 2, 3,", "Water boils at", "The largest planet is", "Roses are red,",
]


def test_eight_clients_at_once_each_get_their_own_greedy_answer(server):
    c = oc(server)
    want = {p: c.generate(model=MODEL, prompt=p, raw=True, options={**G, "num_predict": 24}).response for p in PROMPTS}

    def one(p):
        return p, ollama.Client(host=server.url).generate(model=MODEL, prompt=p, raw=True, options={**G, "num_predict": 24}).response

    with cf.ThreadPoolExecutor(8) as ex:
        got = dict(ex.map(one, PROMPTS))
    assert got == want


def test_queue_overflow_is_503_and_a_killed_client_frees_its_slot():
    s = Server("--parallel", "1", "--queue", "1")
    try:
        body = {"model": MODEL, "prompt": "1, 2, 3, 4, 5,", "raw": True, "stream": True,
                "options": {"temperature": 0, "num_predict": -1, "num_ctx": 4096}}
        # Occupy the only slot with an endless stream, read a little, then vanish.
        with httpx.Client(timeout=60) as h:
            with h.stream("POST", s.url + "/api/generate", json=body) as r:
                lines = r.iter_lines()
                assert json.loads(next(lines))["done"] is False
                # While it runs: one request may wait in the queue; more are refused.
                statuses = []

                def fire(_):
                    return httpx.post(s.url + "/api/generate", timeout=120,
                                      json={**body, "stream": False, "options": {"temperature": 0, "num_predict": 3}})

                with cf.ThreadPoolExecutor(4) as ex:
                    futs = [ex.submit(fire, i) for i in range(4)]
                    time.sleep(1.0)
                    # Leave: closing the stream drops the connection.
                    r.close()
                    results = [f.result() for f in futs]
                statuses = sorted(x.status_code for x in results)
        busy = [x for x in results if x.status_code == 503]
        assert busy, statuses
        assert all(x.headers.get("retry-after") for x in busy)
        assert "busy" in busy[0].json()["error"]
        # The queued one ran once the killed client's slot was freed.
        ok = [x for x in results if x.status_code == 200]
        assert ok and all(x.json()["eval_count"] == 3 for x in ok)
        t0 = time.time()
        r = httpx.post(s.url + "/api/generate", timeout=60, json={**body, "stream": False, "options": {"temperature": 0, "num_predict": 3}})
        assert r.status_code == 200 and time.time() - t0 < 30
    finally:
        s.stop()


# ------------------------------------------------------- auth, CORS, metrics


def test_api_key_cors_and_metrics():
    s = Server("--parallel", "1", "--api-key", "sekrit")
    try:
        assert httpx.get(s.url + "/health").status_code == 200
        r = httpx.get(s.url + "/api/tags")
        assert r.status_code == 401
        r = httpx.get(s.url + "/v1/models")
        assert r.status_code == 401 and "message" in r.json()["error"]
        c = ollama.Client(host=s.url, headers={"Authorization": "Bearer sekrit"})
        assert MODEL in [m.model for m in c.list().models]
        o = openai.OpenAI(base_url=s.url + "/v1", api_key="sekrit")
        assert MODEL in [m.id for m in o.models.list().data]
        c.generate(model=MODEL, prompt="hi", options={"num_predict": 3})
        h = {"Authorization": "Bearer sekrit"}
        # CORS: loopback origins allowed, others not.
        r = httpx.options(s.url + "/api/tags", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"})
        assert r.headers.get("access-control-allow-origin") == "http://localhost:3000"
        r = httpx.options(s.url + "/api/tags", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in r.headers
        m = httpx.get(s.url + "/metrics", headers=h).text
        assert 'edgellm_generated_tokens_total{model="smollm2:135m"} 3' in m
        assert "edgellm_decode_tokens_per_second_bucket" in m
        assert "edgellm_queue_depth" in m and "edgellm_kv_cache_bytes" in m
        assert "edgellm_loaded_models 1" in m
        assert 'route="/api/generate",status="200"' in m
    finally:
        s.stop()


# ---------------------------------------------------------------- OpenAPI


def test_openapi_describes_every_route(server):
    spec = json.loads((pathlib.Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert spec["openapi"].startswith("3.")
    for path, ops in spec["paths"].items():
        for method in ops:
            url = server.url + path.replace("{model}", MODEL)
            r = httpx.request(method.upper(), url, json={} if method == "post" else None)
            # Every documented route exists (the fallback says "no route").
            assert "no route" not in r.text, (method, path)
            expected = {str(code) for code in ops[method]["responses"]}
            assert str(r.status_code) in expected, (method, path, r.status_code, r.text)
    # And every route the server answers is documented.
    for path in ["/api/generate", "/api/chat", "/api/tags", "/api/show", "/api/ps", "/api/version",
                 "/api/embed", "/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/embeddings",
                 "/health", "/metrics", "/api/pull", "/api/delete", "/api/copy", "/api/create",
                 "/api/blobs/{digest}"]:
        assert path in spec["paths"], path


# ---------------------------------------------------------- structured output

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def test_ollama_format_json_and_schema(server):
    c = oc(server)
    r = c.generate(model=MODEL, prompt="Describe a cat as JSON.", format="json", options={**G, "num_predict": 80})
    assert isinstance(json.loads(r.response), dict), r.response
    r = c.chat(model=MODEL, messages=[{"role": "user", "content": "Give me a person."}], format=PERSON,
               options={**G, "num_predict": 80})
    person = json.loads(r.message.content)
    assert set(person) == {"name", "age"}, person
    assert isinstance(person["name"], str) and isinstance(person["age"], int)
    # Streamed, the pieces add up to the same JSON.
    streamed = "".join(p.message.content for p in c.chat(
        model=MODEL, messages=[{"role": "user", "content": "Give me a person."}], format=PERSON,
        options={**G, "num_predict": 80}, stream=True))
    assert streamed == r.message.content
    with pytest.raises(ollama.ResponseError) as e:
        c.generate(model=MODEL, prompt="x", format={"type": "bogus"})
    assert e.value.status_code == 400 and "schema" in e.value.error


def test_openai_response_format(server):
    c = oa(server)
    r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Give me a person."}],
                                  temperature=0, max_tokens=80,
                                  response_format={"type": "json_schema",
                                                   "json_schema": {"name": "person", "schema": PERSON}})
    person = json.loads(r.choices[0].message.content)
    assert set(person) == {"name", "age"} and isinstance(person["age"], int)
    r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "A JSON object about Paris."}],
                                  temperature=0, max_tokens=80, response_format={"type": "json_object"})
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_max_loaded_evicts_the_least_recently_used():
    s = Server("--parallel", "1", "--max-loaded", "1")
    try:
        c = ollama.Client(host=s.url)
        c.generate(model=MODEL, prompt="hi", options={"num_predict": 1})
        assert [m.model for m in c.ps().models] == [MODEL]
        r = c.generate(model="gemma3:270m", prompt="The capital of France is", raw=True,
                       options={"temperature": 0, "num_predict": 4})
        assert r.load_duration > 0 and r.eval_count > 0
        assert [m.model for m in c.ps().models] == ["gemma3:270m"]
    finally:
        s.stop()


# ------------------------------------------------------------ store routes


def test_pull_copy_create_show_delete_and_blobs(server):
    c = oc(server)
    statuses = [p.status for p in c.pull(MODEL, stream=True)]
    assert statuses[0] == "pulling manifest" and statuses[-1] == "success", statuses
    assert c.pull(MODEL).status == "success"
    with pytest.raises(ollama.ResponseError) as e:
        c.pull("../../etc/passwd")
    assert e.value.status_code == 400

    c.copy(MODEL, "smol-copy:test")
    assert "smol-copy:test" in [m.model for m in c.list().models]
    system = "You are a pirate. Answer in pirate speak."
    c.create(model="smol-pirate:test", from_=MODEL, system=system, parameters={"temperature": 0, "num_predict": 20})
    s = c.show("smol-pirate:test")
    assert "temperature" in s.parameters and system in s.modelfile
    assert httpx.post(server.url + "/api/show", json={"model": "smol-pirate:test"}).json()["system"] == system
    # The model's SYSTEM and PARAMETERs apply: same answer as the CLI with --system.
    r = c.generate(model="smol-pirate:test", prompt="Hello, who are you?")
    assert r.response.rstrip("\n") == cli_greedy("Hello, who are you?", 20, system=system)
    for name in ["smol-copy:test", "smol-pirate:test"]:
        c.delete(name)
    names = [m.model for m in c.list().models]
    assert "smol-copy:test" not in names and MODEL in names
    with pytest.raises(ollama.ResponseError) as e:
        c.delete("smol-copy:test")
    assert e.value.status_code == 404

    zero = "sha256:" + "0" * 64
    assert httpx.head(server.url + f"/api/blobs/{zero}").status_code == 404
    assert httpx.head(server.url + "/api/blobs/sha256:../../x").status_code == 400
    data = b"hello blob"
    import hashlib
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    assert httpx.post(server.url + f"/api/blobs/{zero}", content=data).status_code == 400
    assert httpx.post(server.url + f"/api/blobs/{good}", content=data).status_code == 201
    assert httpx.head(server.url + f"/api/blobs/{good}").status_code == 200
