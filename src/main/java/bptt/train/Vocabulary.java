// Vocabulary: the distinct Unicode code points of a text, in ascending order, as token ids.
package bptt.train;

import java.util.Arrays;

/** Token id i is the i-th smallest distinct code point of the training text. */
public final class Vocabulary {
    private final int[] codePoints; // ascending, distinct

    private Vocabulary(int[] codePoints) {
        this.codePoints = codePoints;
    }

    public static Vocabulary of(String text) {
        return new Vocabulary(text.codePoints().distinct().sorted().toArray());
    }

    /** The vocabulary whose characters, in index order, are those of {@code chars}. */
    public static Vocabulary fromCharacters(String chars) {
        int[] cps = chars.codePoints().toArray();
        for (int i = 1; i < cps.length; i++) {
            if (cps[i] <= cps[i - 1]) {
                throw new IllegalArgumentException("vocabulary characters must be distinct and ascending");
            }
        }
        return new Vocabulary(cps);
    }

    public int size() { return codePoints.length; }

    /** The characters in index order, as one string. */
    public String characters() { return new String(codePoints, 0, codePoints.length); }

    /** The id of a code point, or -1 if it is not in the vocabulary. */
    public int id(int codePoint) {
        int i = Arrays.binarySearch(codePoints, codePoint);
        return i >= 0 ? i : -1;
    }

    public int codePoint(int id) { return codePoints[id]; }

    /** Token ids of {@code text}; a character outside the vocabulary is an error naming it. */
    public int[] encode(String text) {
        int[] cps = text.codePoints().toArray();
        int[] ids = new int[cps.length];
        for (int i = 0; i < cps.length; i++) {
            ids[i] = id(cps[i]);
            if (ids[i] < 0) {
                throw new IllegalArgumentException("character '" + new String(Character.toChars(cps[i]))
                        + "' (U+" + String.format("%04X", cps[i]) + ") at position " + i
                        + " is not in the model's vocabulary of " + size() + " characters");
            }
        }
        return ids;
    }

    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.appendCodePoint(codePoints[id]);
        }
        return sb.toString();
    }
}
