//! Unit tests of the public API on small hand-made vocabularies.

use super::*;

/// A byte-level BPE vocabulary: the 256 byte images, a few merges and
/// special tokens (ids listed in the constants below).
fn gpt2_spec(pre: &str) -> VocabSpec {
    let table = unicode::byte_to_char_table();
    let mut tokens: Vec<String> = table.iter().map(|c| c.to_string()).collect();
    let mut types = vec![1; 256];
    let merges: Vec<String> = [
        "H e",
        "l l",
        "He ll",
        "Hell o",
        "Ġ w",
        "o r",
        "Ġw or",
        "Ġwor l",
        "Ġworl d",
        "Ġ Ġ",
        "ĠĠ ĠĠ",
        "1 2",
        "12 3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in &merges {
        let merged = m.replace(' ', "");
        if !tokens.contains(&merged) {
            tokens.push(merged);
            types.push(1);
        }
    }
    for (text, t) in [
        ("<|endoftext|>", 3),
        ("<|im_start|>", 3),
        ("<|im_end|>", 3),
        ("<tool>", 4),
    ] {
        tokens.push(text.to_string());
        types.push(t);
    }
    VocabSpec {
        model: "gpt2".into(),
        pre: Some(pre.into()),
        tokens,
        token_types: Some(types),
        merges: Some(merges),
        bos: None,
        eos: None,
        architecture: "qwen2".into(),
        ..Default::default()
    }
}

fn gpt2(pre: &str) -> Tokenizer {
    let mut spec = gpt2_spec(pre);
    let eot = spec
        .tokens
        .iter()
        .position(|t| t == "<|endoftext|>")
        .unwrap() as u32;
    spec.bos = Some(eot);
    spec.eos = Some(eot);
    Tokenizer::new(spec).unwrap()
}

fn id(tok: &Tokenizer, text: &str) -> u32 {
    tok.token_id(text)
        .unwrap_or_else(|| panic!("no token {text:?}"))
}

#[test]
fn tokenizer_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Tokenizer>();
}

#[test]
fn bpe_merges_words() {
    let tok = gpt2("qwen2");
    let ids = tok.encode("Hello world", false, false).unwrap();
    assert_eq!(ids, [id(&tok, "Hello"), id(&tok, "Ġworld")]);
    assert_eq!(tok.decode(&ids, false), "Hello world");
    // qwen2 splits digits one by one: no "123" despite the merges
    let ids = tok.encode("123", false, false).unwrap();
    assert_eq!(ids, [id(&tok, "1"), id(&tok, "2"), id(&tok, "3")]);
    // llama3 groups them by three
    let tok = gpt2("llama-bpe");
    assert_eq!(tok.encode("123", false, false).unwrap(), [id(&tok, "123")]);
}

#[test]
fn bpe_round_trips_any_utf8() {
    let tok = gpt2("qwen2");
    let text = "héllo 🦙 世界\n\t  x\u{3000}y \u{0}";
    let ids = tok.encode(text, false, false).unwrap();
    assert_eq!(tok.decode(&ids, false), text);
}

#[test]
fn special_tokens_parse_only_when_asked() {
    let tok = gpt2("qwen2");
    let start = id(&tok, "<|im_start|>");
    let ids = tok.encode("<|im_start|>Hello", false, true).unwrap();
    assert_eq!(ids, [start, id(&tok, "Hello")]);
    let ids = tok.encode("<|im_start|>Hello", false, false).unwrap();
    assert!(!ids.contains(&start));
    assert_eq!(tok.decode(&ids, false), "<|im_start|>Hello");
    // user-defined tokens are matched even without parse_special
    let ids = tok.encode("a<tool>b", false, false).unwrap();
    assert_eq!(ids, [id(&tok, "a"), id(&tok, "<tool>"), id(&tok, "b")]);
}

#[test]
fn control_pieces_render_only_with_special() {
    let tok = gpt2("qwen2");
    let end = id(&tok, "<|im_end|>");
    assert_eq!(tok.token_to_piece(end, false), b"");
    assert_eq!(tok.token_to_piece(end, true), b"<|im_end|>");
    assert_eq!(tok.token_to_piece(id(&tok, "<tool>"), false), b"<tool>");
    assert_eq!(tok.token_to_piece(id(&tok, "Ġworld"), false), b" world");
    assert_eq!(tok.token_to_piece(u32::MAX, true), b"");
    assert_eq!(tok.token_text(end), "<|im_end|>");
}

#[test]
fn end_of_generation_set_follows_token_texts() {
    let tok = gpt2("qwen2");
    assert!(tok.is_eog(id(&tok, "<|im_end|>")));
    assert!(tok.is_eog(id(&tok, "<|endoftext|>")));
    assert!(!tok.is_eog(id(&tok, "<|im_start|>")));
    assert!(!tok.is_eog(id(&tok, "Hello")));
}

#[test]
fn bos_eos_flags_and_defaults() {
    let tok = gpt2("qwen2");
    assert!(!tok.add_bos());
    assert_eq!(
        tok.encode("Hello", true, false).unwrap(),
        [id(&tok, "Hello")]
    );
    let tok = gpt2("llama-bpe");
    assert!(tok.add_bos(), "llama3 vocabularies add BOS by default");
    let eot = id(&tok, "<|endoftext|>");
    assert_eq!(
        tok.encode("Hello", true, false).unwrap(),
        [eot, id(&tok, "Hello")]
    );
    let mut spec = gpt2_spec("qwen2");
    spec.add_eos = Some(true);
    spec.eos = Some(id(&tok, "<|im_end|>"));
    let tok = Tokenizer::new(spec).unwrap();
    let ids = tok.encode("Hello", true, false).unwrap();
    assert_eq!(ids.last(), Some(&id(&tok, "<|im_end|>")));
    assert_eq!(tok.encode("", true, false).unwrap().len(), 1);
}

#[test]
fn bad_vocabularies_are_errors_that_name_the_problem() {
    let mut spec = gpt2_spec("qwen2");
    spec.model = "t5".into();
    let err = Tokenizer::new(spec).unwrap_err().to_string();
    assert!(err.contains("t5"), "{err}");
    let err = Tokenizer::new(gpt2_spec("kimi-k2"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("kimi-k2"), "{err}");
    let mut spec = gpt2_spec("qwen2");
    spec.tokens[5] = spec.tokens[4].clone();
    assert!(Tokenizer::new(spec)
        .unwrap_err()
        .to_string()
        .contains("duplicate"));
    let mut spec = gpt2_spec("qwen2");
    spec.merges = None;
    assert!(Tokenizer::new(spec).is_err());
    let mut spec = gpt2_spec("qwen2");
    spec.add_bos = Some(true);
    spec.tokens.truncate(300); // the default BOS (11) exists...
    spec.token_types = None;
    assert!(Tokenizer::new(spec).is_ok());
    let spec = VocabSpec {
        model: "gpt2".into(),
        ..Default::default()
    };
    assert!(Tokenizer::new(spec).is_err(), "empty vocabulary");
}

#[test]
fn phi3_special_tokens_strip_right_spaces() {
    let mut spec = gpt2_spec("gpt-2");
    spec.name = Some("Phi-3-mini".into());
    let tok = Tokenizer::new(spec).unwrap();
    let ids = tok.encode("<|im_end|>  Hello", false, true).unwrap();
    assert_eq!(ids, [id(&tok, "<|im_end|>"), id(&tok, "Hello")]);
}

#[test]
fn detokenize_cleans_spaces_like_llama_cpp() {
    let tok = gpt2("gpt-2"); // gpt-2 has clean_up_tokenization_spaces
    let ids = tok.encode("Hello , world . it 's", false, false).unwrap();
    assert_eq!(tok.detokenize(&ids, false, false), "Hello, world. it's");
    assert_eq!(tok.decode(&ids, false), "Hello , world . it 's");
    let mut text = b"a ' ' b".to_vec();
    clean_up_spaces(&mut text);
    assert_eq!(
        text, b"a'' b",
        "the space after a lone quote is dropped, as in llama.cpp"
    );
}

/// A SentencePiece vocabulary in the style of Gemma's.
fn spm_spec() -> VocabSpec {
    let mut tokens: Vec<String> = vec!["<pad>", "<eos>", "<bos>", "<unk>"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut types = vec![3, 3, 3, 2];
    let mut scores = vec![0.0; 4];
    for b in 0..=255u32 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    for (text, score) in [
        ("▁", -1.0),
        ("h", -2.0),
        ("i", -2.0),
        ("▁h", -3.0),
        ("hi", -2.5),
        ("▁hi", -1.5),
        ("<start_of_turn>", 0.0),
        ("<end_of_turn>", 0.0),
        ("<html>", 0.0),
    ] {
        tokens.push(text.to_string());
        scores.push(score);
        types.push(match text {
            "<start_of_turn>" | "<end_of_turn>" => 3,
            "<html>" => 4,
            _ => 1,
        });
    }
    VocabSpec {
        model: "llama".into(),
        tokens,
        scores: Some(scores),
        token_types: Some(types),
        bos: Some(2),
        eos: Some(1),
        unk: Some(3),
        pad: Some(0),
        add_space_prefix: Some(false),
        architecture: "gemma3".into(),
        ..Default::default()
    }
}

#[test]
fn spm_merges_by_score_and_falls_back_to_bytes() {
    let tok = Tokenizer::new(spm_spec()).unwrap();
    assert!(tok.add_bos());
    let ids = tok.encode("hi €", true, false).unwrap();
    let euro: Vec<u32> = "€"
        .bytes()
        .map(|b| id(&tok, &format!("<0x{b:02X}>")))
        .collect();
    let mut expected = vec![2, id(&tok, "hi"), id(&tok, "▁")];
    expected.extend(&euro);
    assert_eq!(ids, expected);
    assert_eq!(tok.decode(&ids, false), "hi €");
    assert_eq!(tok.decode(&ids, true), "<bos>hi €");
}

#[test]
fn spm_space_prefix_applies_per_fragment() {
    let mut spec = spm_spec();
    spec.add_space_prefix = Some(true);
    let tok = Tokenizer::new(spec).unwrap();
    let sot = id(&tok, "<start_of_turn>");
    let ids = tok.encode("hi<start_of_turn>hi", false, true).unwrap();
    assert_eq!(ids, [id(&tok, "▁hi"), sot, id(&tok, "▁hi")]);
    // llama_detokenize drops the prefix space of the first piece
    assert_eq!(tok.detokenize(&ids, false, true), "hi<start_of_turn> hi");
}

#[test]
fn spm_user_defined_tokens_split_without_parse_special() {
    let tok = Tokenizer::new(spm_spec()).unwrap();
    let ids = tok.encode("hi<html><end_of_turn>", false, false).unwrap();
    assert_eq!(ids[..2], [id(&tok, "hi"), id(&tok, "<html>")]);
    assert!(!ids.contains(&id(&tok, "<end_of_turn>")));
    assert!(tok.is_eog(id(&tok, "<end_of_turn>")));
    assert!(tok.is_eog(1));
}

#[test]
fn detokenizer_streams_complete_characters() {
    let tok = Tokenizer::new(spm_spec()).unwrap();
    let ids = tok.encode("hi €", false, false).unwrap();
    let mut detok = Detokenizer::new(&tok);
    let mut pieces = Vec::new();
    for &i in &ids {
        pieces.push(detok.push(i).to_string());
    }
    assert_eq!(pieces, ["hi", " ", "", "", "€"]);
    assert_eq!(detok.flush(), "");
    let mut detok = Detokenizer::new(&tok);
    assert_eq!(detok.push(id(&tok, "<0xE2>")), "");
    assert_eq!(detok.n_pending_bytes(), 1);
    assert_eq!(detok.flush(), "\u{FFFD}");
    // control tokens render as nothing by default
    assert_eq!(Detokenizer::new(&tok).push(1), "");
    assert_eq!(Detokenizer::with_special(&tok, true).push(1), "<eos>");
}

fn msgs(pairs: &[(&str, &str)]) -> Vec<ChatMessage> {
    pairs
        .iter()
        .map(|(r, c)| ChatMessage::new(*r, *c))
        .collect()
}

#[test]
fn gemma_fallback_template_prepends_system_and_drops_bos() {
    let tok = Tokenizer::new(spm_spec()).unwrap();
    let text = tok
        .render_chat(
            &msgs(&[
                ("system", "Be brief."),
                ("user", " Hi "),
                ("assistant", "Yo"),
            ]),
            true,
        )
        .unwrap();
    assert_eq!(
        text,
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nYo<end_of_turn>\n<start_of_turn>model\n"
    );
    let err = tok
        .render_chat(&msgs(&[("user", "a"), ("user", "b")]), true)
        .unwrap_err();
    assert!(err.to_string().contains("alternate"), "{err}");
}

#[test]
fn chatml_is_the_generic_fallback() {
    let tok = gpt2("qwen2");
    let text = tok.render_chat(&msgs(&[("user", "Hi")]), true).unwrap();
    assert_eq!(
        text,
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}

/// Qwen2.5-Instruct's template (tools branch, loops, `messages[0]['role']`).
const QWEN25_TEMPLATE: &str = r#"{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"#;

/// SmolLM2-Instruct's template.
const SMOLLM2_TEMPLATE: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

fn with_template(template: &str) -> Tokenizer {
    let mut spec = gpt2_spec("qwen2");
    spec.chat_template = Some(template.to_string());
    spec.bos = spec
        .tokens
        .iter()
        .position(|t| t == "<|endoftext|>")
        .map(|i| i as u32);
    Tokenizer::new(spec).unwrap()
}

#[test]
fn qwen25_template_renders() {
    let tok = with_template(QWEN25_TEMPLATE);
    let text = tok.render_chat(&msgs(&[("user", "Hi")]), true).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
    let text = tok
        .render_chat(
            &msgs(&[
                ("system", "S"),
                ("user", "Hi"),
                ("assistant", "Yo"),
                ("user", "?"),
            ]),
            false,
        )
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n<|im_start|>user\n?<|im_end|>\n"
    );
    // the rendered prompt tokenizes with its control tokens
    let ids = tok.encode(&text, true, true).unwrap();
    assert_eq!(ids[0], id(&tok, "<|im_start|>"));
}

#[test]
fn smollm2_template_renders() {
    let tok = with_template(SMOLLM2_TEMPLATE);
    let text = tok.render_chat(&msgs(&[("user", "Hi")]), true).unwrap();
    assert_eq!(
        text,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn template_helpers_and_errors() {
    let tok = with_template("{{ raise_exception('no system role') }}");
    let err = tok
        .render_chat(&msgs(&[("user", "Hi")]), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no system role"), "{err}");
    let tok = with_template("{% for m in messages %}");
    let err = tok
        .render_chat(&msgs(&[("user", "Hi")]), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("chat template"), "{err}");
    let tok = with_template(
        "{{ messages[0].content.strip().upper() }}|{{ strftime_now('%Y')|length }}|{{ bos_token }}|{{ tools is none }}",
    );
    let text = tok.render_chat(&msgs(&[("user", "  hi ")]), false).unwrap();
    assert_eq!(text, "HI|4|<|endoftext|>|True");
}

#[test]
fn large_spm_vocabulary_builds_quickly() {
    // Gemma 3 size: 262144 tokens, thousands of control/user-defined ones.
    let mut spec = spm_spec();
    let n_base = spec.tokens.len();
    let tokens = &mut spec.tokens;
    let scores = spec.scores.as_mut().unwrap();
    let types = spec.token_types.as_mut().unwrap();
    for i in n_base..262_144 {
        if i % 40 == 0 {
            tokens.push(format!("<unused{i}>"));
            types.push(3);
        } else if i % 41 == 0 {
            tokens.push(format!("<tag{i}>"));
            types.push(4);
        } else {
            tokens.push(format!("▁w{i:x}"));
            types.push(1);
        }
        scores.push(-(i as f32));
    }
    let t = std::time::Instant::now();
    let tok = Tokenizer::new(spec).unwrap();
    let build = t.elapsed();
    let text = "hi there <tag123> and some more words ".repeat(400);
    let t = std::time::Instant::now();
    let ids = tok.encode(&text, true, true).unwrap();
    let encode = t.elapsed();
    eprintln!(
        "262k vocab: build {build:?}, encode {} bytes → {} ids in {encode:?}",
        text.len(),
        ids.len()
    );
    assert_eq!(tok.n_vocab(), 262_144);
    assert!(build.as_millis() < 3000, "build took {build:?}");
}

/// Cases of llama.cpp's `tests/test-chat-template.cpp` (template, BOS, EOS,
/// expected output of its Jinja path), rendered with the same conversation.
const LLAMA_CPP_TEMPLATE_CASES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "teknium/OpenHermes-2.5-Mistral-7B",
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
        "",
        "",
        "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n",
    ),
    (
        "mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)",
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}",
        "",
        "</s>",
        "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]",
    ),
    (
        "TheBloke/FusionNet_34Bx2_MoE-AWQ",
        "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%- else -%}\n{{- messages[idx]['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n{{- ' '  + messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
        "<s>",
        "</s>",
        "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Who are you [/INST]    I am an assistant    </s><s>[INST] Another question [/INST]",
    ),
    (
        "bofenghuang/vigogne-2-70b-chat",
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif true == true and not '<<SYS>>' in messages[0]['content'] %}{% set loop_messages = messages %}{% set system_message = 'Vous êtes Vigogne, un assistant IA créé par Zaion Lab. Vous suivez extrêmement bien les instructions. Aidez autant que vous le pouvez.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
        "",
        "</s>",
        "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s>[INST] Who are you [/INST] I am an assistant </s>[INST] Another question [/INST]",
    ),
    (
        "google/gemma-7b-it",
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
        "",
        "",
        "<start_of_turn>user\nYou are a helpful assistant\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n",
    ),
    (
        "deepseek-ai/deepseek-coder-33b-instruct",
        "{% if not add_generation_prompt is defined %}\n{% set add_generation_prompt = false %}\n{% endif %}\n{%- set ns = namespace(found=false) -%}\n{%- for message in messages -%}\n    {%- if message['role'] == 'system' -%}\n        {%- set ns.found = true -%}\n    {%- endif -%}\n{%- endfor -%}\n{{bos_token}}{%- if not ns.found -%}\n{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer\\n'}}\n{%- endif %}\n{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}",
        "",
        "",
        "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\nWho are you\n### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n",
    ),
    (
        "CohereForAI/c4ai-command-r-plus",
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif false == true %}{% set loop_messages = messages %}{% set system_message = 'You are Command-R, a brilliant, sophisticated, AI-assistant trained to assist human users by providing thorough responses. You are trained by Cohere.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}",
        "",
        "",
        "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Who are you<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I am an assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Another question<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
    ),
    (
        "Llama-3",
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
        "",
        "",
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    ),
    (
        "Phi-3-mini",
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}",
        "",
        "",
        "<|user|>\nYou are a helpful assistant\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n",
    ),
];

#[test]
fn templates_render_like_llama_cpp() {
    let conversation = msgs(&[
        ("system", "You are a helpful assistant"),
        ("user", "Hello"),
        ("assistant", "Hi there"),
        ("user", "Who are you"),
        ("assistant", "   I am an assistant   "),
        ("user", "Another question"),
    ]);
    for &(name, template, bos, eos, expected) in LLAMA_CPP_TEMPLATE_CASES {
        let template = ChatTemplate::new(template).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = template
            .render(&conversation, true, bos, eos, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out, expected, "{name}");
    }
}

#[test]
fn template_python_compat_details() {
    let render = |src: &str, messages: &[(&str, &str)]| {
        ChatTemplate::new(src)
            .unwrap()
            .render(&msgs(messages), true, "<s>", "</s>", None)
    };
    // HF's {% generation %} renders its body, whitespace control kept
    let out = render(
        "{% for m in messages %}{%- generation -%}  [{{ m.content }}]  {%- endgeneration -%}{% endfor %}",
        &[("user", "a"), ("user", "b")],
    );
    assert_eq!(out.unwrap(), "[a][b]");
    // loop controls
    let out = render("{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.content }}{% endfor %}", &[("user", "a"), ("user", "b")]);
    assert_eq!(out.unwrap(), "a");
    // tools is none: not iterable (Python), so `tools | length` is never reached
    let out = render("{% if tools is iterable and tools | length > 0 %}T{% else %}-{% endif %}{{ undefined_thing | length }}", &[("user", "a")]);
    assert_eq!(out.unwrap(), "-0");
    // typed-content-only templates get content parts
    let t = ChatTemplate::new(
        "{% for m in messages %}{% for p in m.content %}{{ p.text }}{% endfor %}{% endfor %}",
    )
    .unwrap();
    assert_eq!(
        t.render(&msgs(&[("user", "hi")]), false, "", "", None)
            .unwrap(),
        "hi"
    );
    // "developer" is "system"; a template that drops system text gets it
    // merged into the next message, or removed when alone (llama.cpp)
    let t = ChatTemplate::new("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}")
        .unwrap();
    assert!(t.supports_system_role());
    assert_eq!(
        t.render(&msgs(&[("developer", "x")]), false, "", "", None)
            .unwrap(),
        "system:x;"
    );
    let t = ChatTemplate::new(
        "{% for m in messages %}{% if m.role != 'system' %}{{ m.content }};{% endif %}{% endfor %}",
    )
    .unwrap();
    assert!(!t.supports_system_role());
    assert_eq!(
        t.render(
            &msgs(&[("system", "S"), ("user", "U")]),
            false,
            "",
            "",
            None
        )
        .unwrap(),
        "S\nU;"
    );
    assert_eq!(
        t.render(&msgs(&[("system", "S")]), false, "", "", None)
            .unwrap(),
        ""
    );
}
