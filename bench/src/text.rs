//! Deterministic English-like text: Zipf-distributed words, sentences, paragraphs and the odd
//! code block, so FTS5 and the page sizes see realistic data.

const WORDS: &str = "the of and to a in is it you that he was for on are with as I his they be at one have this from or had by hot word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find any new work part take get place made live where after back little only round man year came show every good me give our under name very through just form sentence great think say help low line differ turn cause much mean before move right boy old too same tell does set three want air well also play small end put home read hand port large spell add even land here must big high such follow act why ask men change went light kind off need house picture try us again animal point mother world near build self earth father head stand own page should country found answer school grow study still learn plant cover food sun four between state keep eye never last let thought city tree cross farm hard start might story saw far sea draw left late run while press close night real life few north open seem together next white children begin got walk example ease paper group always music those both mark often letter until mile river car feet care second book carry took science eat room friend began idea fish mountain stop once base hear horse cut sure watch color face wood main enough plain girl usual young ready above ever red list though feel talk bird soon body dog family direct pose leave song measure door product black short numeral class wind question happen complete ship area half rock order fire south problem piece told knew pass since top whole king space heard best hour better true during hundred five remember step early hold west ground interest reach fast verb sing listen six table travel less morning ten simple several vowel toward war lay against pattern slow center love person money serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest correct able pound done beauty drive stood contain front teach week final gave green oh quick develop ocean warm free minute strong special mind behind clear tail produce fact street inch multiply nothing course stay wheel full force blue object decide surface deep moon island foot system busy test record boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring yes distant fill east paint language among rust borrow compiler async thread memory vector iterator closure trait lifetime database index query latency server client request response stream token model prompt context";

const CODE: &[&str] = &[
    "```rust\nfn main() {\n    let v: Vec<u32> = (1..10).collect();\n    println!(\"{}\", v.iter().sum::<u32>());\n}\n```",
    "```python\ndef fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n```",
    "```sql\nSELECT id, title FROM sessions WHERE user_id = ? ORDER BY updated_at DESC LIMIT 50;\n```",
];

/// The models replies are credited to, and the message types, as the seeds spread them.
pub const MODELS: [&str; 4] = [
    "llama3.1:8b",
    "qwen2.5-coder",
    "mistral-nemo",
    "gpt-4o-mini",
];
pub const TYPES: [&str; 6] = [
    "chat",
    "chat",
    "chat",
    "code_review",
    "explain",
    "summarize",
];

pub struct TextGenerator {
    state: u64,
    words: Vec<&'static str>,
}

impl TextGenerator {
    pub fn new(seed: u64) -> Self {
        TextGenerator {
            state: seed.max(1),
            words: WORDS.split_whitespace().collect(),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        // xorshift64*: fast, deterministic, good enough for test data.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A word with a Zipf-like bias towards the common ones.
    fn word(&mut self) -> &'static str {
        let len = self.words.len() as f64;
        let uniform = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let index = (len.powf(uniform) - 1.0) as usize;
        self.words[index.min(self.words.len() - 1)]
    }

    pub fn sentence(&mut self) -> String {
        let count = 6 + self.below(14) as usize;
        let mut sentence: Vec<&str> = (0..count).map(|_| self.word()).collect();
        let mut text = sentence.remove(0).to_owned();
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        for word in sentence {
            text.push(' ');
            text.push_str(word);
        }
        text.push('.');
        text
    }

    /// About 600 characters on average: a few sentences, sometimes a code block.
    pub fn message(&mut self) -> String {
        let sentences = 2 + self.below(8) as usize;
        let mut text = (0..sentences)
            .map(|_| self.sentence())
            .collect::<Vec<_>>()
            .join(" ");
        if self.below(10) == 0 {
            text.push_str("\n\n");
            text.push_str(CODE[self.below(CODE.len() as u64) as usize]);
        }
        text
    }
}
