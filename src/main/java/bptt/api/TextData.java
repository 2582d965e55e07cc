// TextData: a character corpus (a file, text in memory, or the built-in one) as a Dataset, batched as the engine batches text.
package bptt.api;

import bptt.train.Corpus;
import bptt.train.TextDataset;
import bptt.train.Vocabulary;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/** The vocabulary is the text's distinct characters; the held-out tail is validation data. */
final class TextData extends BuiltinData {
    private final Corpus corpus;
    private final double heldOutFraction;

    private TextData(Corpus corpus, double heldOutFraction) {
        this.corpus = corpus;
        this.heldOutFraction = heldOutFraction;
    }

    static TextData load(Path file, double heldOut) {
        return new TextData(Corpus.load(file, heldOut), heldOut);
    }

    static TextData of(String text, double heldOut) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("the text is empty");
        }
        return new TextData(Corpus.of("text in memory", null, text, heldOut), heldOut);
    }

    static TextData builtin(double heldOut) { return new TextData(Corpus.builtin(heldOut), heldOut); }

    Corpus corpus() { return corpus; }

    /** The fraction of the text held out for validation. */
    double heldOutFraction() { return heldOutFraction; }

    /** Every character of the text (training and held-out parts) as ids of {@code vocabulary}. */
    int[] tokens(Vocabulary vocabulary) {
        Vocabulary own = corpus.vocabulary();
        int[] all = Arrays.copyOf(corpus.trainTokens(), corpus.trainTokens().length + corpus.validationTokens().length);
        System.arraycopy(corpus.validationTokens(), 0, all, corpus.trainTokens().length, corpus.validationTokens().length);
        return Arrays.equals(own.codePoints(), vocabulary.codePoints()) ? all : vocabulary.encode(own.decode(all));
    }

    @Override
    TextDataset create(int batch, int steps) { return new TextDataset(corpus, batch, steps); }

    @Override
    public ModelSpec shape() { return ModelSpec.text(corpus.vocabulary().characters()); }

    @Override
    public boolean continuesSequences() { return true; }

    @Override
    public Dataset heldOut() {
        int[] held = corpus.validationTokens();
        return held.length == 0 ? null : new TextData(Corpus.of(corpus.source() + ", held-out part", null,
                corpus.vocabulary().decode(held), 0), 0);
    }

    /** "FILE, 9000 training and 1000 validation characters, vocabulary 60", and a note on CRLF line endings. */
    @Override
    public String description() {
        return String.format(Locale.ROOT, "%s, %d training and %d validation characters, vocabulary %d%s",
                corpus.source(), corpus.trainTokens().length, corpus.validationTokens().length,
                corpus.vocabulary().size(), corpus.windowsLineEndings() ? " (the text has Windows line endings: '\\r' is"
                        + " one of its characters; convert it with dos2unix to drop it)" : "");
    }
}
