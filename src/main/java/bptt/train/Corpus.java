// Corpus: a UTF-8 text file (or the built-in text) as vocabulary plus training and validation tokens.
package bptt.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The vocabulary is built from the whole text (so the validation tail has no unknown
 * characters); the last {@code valFraction} of the tokens is the validation split.
 */
public final class Corpus {
    private final String source;
    private final Path file;
    private final Vocabulary vocabulary;
    private final int[] train;
    private final int[] validation;
    private final boolean windowsLineEndings;

    private Corpus(String source, Path file, String text, double valFraction) {
        if (valFraction < 0 || valFraction >= 1) {
            throw new IllegalArgumentException("--val-fraction must be in [0, 1), got " + valFraction);
        }
        this.source = source;
        this.file = file;
        this.vocabulary = Vocabulary.of(text);
        this.windowsLineEndings = text.contains("\r\n");
        int[] all = vocabulary.encode(text);
        int valCount = (int) Math.floor(all.length * valFraction);
        this.train = Arrays.copyOfRange(all, 0, all.length - valCount);
        this.validation = Arrays.copyOfRange(all, all.length - valCount, all.length);
    }

    /** Text from anywhere ({@code file} null when it is not a file's), named {@code source} in messages and logs. */
    public static Corpus of(String source, Path file, String text, double valFraction) {
        return new Corpus(source, file, text, valFraction);
    }

    public static Corpus builtin(double valFraction) {
        return new Corpus(BuiltinCorpus.NAME, null, BuiltinCorpus.text(), valFraction);
    }

    /** Reads a UTF-8 file; every problem is an IllegalArgumentException that says what to do. */
    public static Corpus load(Path file, double valFraction) {
        return new Corpus(file.toString(), file, readText(file), valFraction);
    }

    /** The file's text, strictly decoded as UTF-8, with clear errors for missing, empty or binary files. */
    public static String readText(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("data file " + file + " does not exist; pass a UTF-8 text file with --data");
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read data file " + file + ": " + e.getMessage());
        }
        if (bytes.length == 0) {
            throw new IllegalArgumentException("data file " + file + " is empty; give a file with some text");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("data file " + file + " is not valid UTF-8 text (" + e.getMessage()
                    + "); convert it, e.g. with iconv -t UTF-8");
        }
    }

    public String source() { return source; }

    /** The file the text came from, or null for the built-in corpus. */
    public Path file() { return file; }

    public Vocabulary vocabulary() { return vocabulary; }

    public int[] trainTokens() { return train; }

    public int[] validationTokens() { return validation; }

    /** True when the text has CRLF line endings, which make '\r' a character of the vocabulary. */
    public boolean windowsLineEndings() { return windowsLineEndings; }
}
