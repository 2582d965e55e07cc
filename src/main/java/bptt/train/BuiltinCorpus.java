// BuiltinCorpus: the default training text, generated from a small grammar so no download is needed.
package bptt.train;

import java.util.SplittableRandom;

/**
 * About 100 KB of simple English sentences from a fixed grammar and seed: enough structure
 * (spelling, word order, agreement, punctuation) that a character model's loss falls far below
 * the uniform baseline ln V within a minute on a laptop CPU.
 */
public final class BuiltinCorpus {
    private BuiltinCorpus() { }

    public static final String NAME = "built-in corpus (grammar-generated English, seed 2016)";

    private static final String[] NAMES = {"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John"};
    private static final String[] ADJECTIVES = {"small", "quiet", "bright", "old", "clever", "patient", "curious", "tired"};
    private static final String[] NOUNS = {"cat", "dog", "bird", "child", "teacher", "farmer", "sailor", "painter"};
    private static final String[] VERBS = {"sees", "follows", "helps", "finds", "greets", "watches", "calls", "thanks"};
    private static final String[] PLACES = {"garden", "river", "market", "library", "harbour", "forest", "kitchen", "tower"};
    private static final String[] TIMES = {"in the morning", "at noon", "in the evening", "at night", "every day"};

    public static String text() {
        SplittableRandom random = new SplittableRandom(2016);
        StringBuilder sb = new StringBuilder(110_000);
        while (sb.length() < 100_000) {
            int sentences = 2 + random.nextInt(4);
            for (int s = 0; s < sentences; s++) {
                sb.append(sentence(random));
                sb.append(s + 1 < sentences ? " " : "\n");
            }
        }
        return sb.toString();
    }

    private static String sentence(SplittableRandom r) {
        switch (r.nextInt(4)) {
            case 0:
                return capitalize(phrase(r)) + " " + pick(r, VERBS) + " " + phrase(r) + " " + place(r) + ".";
            case 1:
                return pick(r, NAMES) + " " + pick(r, VERBS) + " " + phrase(r) + " " + pick(r, TIMES) + ".";
            case 2:
                return "Does " + phrase(r) + " " + pick(r, VERBS).replaceAll("s$", "") + " " + pick(r, NAMES) + "?";
            default:
                return capitalize(phrase(r)) + " and " + phrase(r) + " walk to the " + pick(r, PLACES) + ", and "
                        + pick(r, NAMES) + " " + pick(r, VERBS) + " them.";
        }
    }

    private static String phrase(SplittableRandom r) {
        return "the " + (r.nextBoolean() ? pick(r, ADJECTIVES) + " " : "") + pick(r, NOUNS);
    }

    private static String place(SplittableRandom r) {
        return (r.nextBoolean() ? "in the " : "near the ") + pick(r, PLACES);
    }

    private static String pick(SplittableRandom r, String[] words) { return words[r.nextInt(words.length)]; }

    private static String capitalize(String s) { return Character.toUpperCase(s.charAt(0)) + s.substring(1); }
}
