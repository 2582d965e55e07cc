// TextDataset: a character corpus as truncated-BPTT windows over B contiguous streams.
package bptt.train;

import bptt.rnn.RnnConfig;
import bptt.rnn.Window;
import bptt.rnn.Workspace;

/** Training windows from the corpus's training split; validation over its held-out tail. */
public final class TextDataset implements Dataset {
    private final Corpus corpus;
    private final TokenStreams streams;
    private final int seqLen;

    public TextDataset(Corpus corpus, int batch, int seqLen) {
        requireEnoughText(corpus, batch);
        this.corpus = corpus;
        this.streams = new TokenStreams(corpus.trainTokens(), batch);
        this.seqLen = seqLen;
        if (seqLen > streams.streamLength() - 1) {
            throw new IllegalArgumentException("--seq-len " + seqLen + " is longer than the data: "
                    + corpus.trainTokens().length + " training tokens in " + batch + " streams give "
                    + (streams.streamLength() - 1) + " steps per stream; lower --seq-len or --batch, or use more text");
        }
    }

    /** Each of the B streams needs 2 characters (an input and the next one as its target). */
    private static void requireEnoughText(Corpus corpus, int batch) {
        int n = corpus.trainTokens().length;
        int held = corpus.validationTokens().length;
        String of = corpus.source() + " has " + n + " training character" + (n == 1 ? "" : "s")
                + (held > 0 ? " (after --val-fraction holds out " + held + ")" : "");
        if (n < 2) {
            throw new IllegalArgumentException("data " + of + "; training needs at least 2, since each step predicts"
                    + " the next character from the one before it: use a longer text" + (held > 0 ? " or --val-fraction 0" : ""));
        }
        if (n / batch < 2) {
            throw new IllegalArgumentException("--batch " + batch + " splits the data into " + batch + " streams that"
                    + " need 2 characters each, but " + of + ": use --batch " + n / 2 + " or less, or a longer text");
        }
    }

    public Corpus corpus() { return corpus; }

    @Override
    public String description() { return corpus.source(); }

    @Override
    public String kind() { return "text"; }

    @Override
    public RnnConfig model(int hidden, int layers) {
        return RnnConfig.charModel(corpus.vocabulary().size(), hidden, layers);
    }

    @Override
    public int batch() { return streams.batch(); }

    @Override
    public int seqLen() { return seqLen; }

    @Override
    public int windowsPerEpoch() { return streams.windows(seqLen); }

    @Override
    public void fill(int epoch, int window, Window into) {
        streams.fill(window, seqLen, into);
    }

    @Override
    public boolean carriesState() { return true; }

    @Override
    public Vocabulary vocabulary() { return corpus.vocabulary(); }

    @Override
    public Evaluation.Result validate(Workspace ws) {
        if (corpus.validationTokens().length <= ws.batch()) {  // each stream needs a target
            return null;
        }
        return Evaluation.evaluate(ws, corpus.validationTokens());
    }
}
