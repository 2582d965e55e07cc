// Sampler: generates text from a character model, one step at a time on the device.
package bptt.train;

import bptt.backend.Backend;
import bptt.rnn.Rnn;
import bptt.rnn.Workspace;

import java.util.SplittableRandom;

/**
 * Feeds the prime text, then draws each next character from softmax(logits / temperature).
 * Without a prime the first of the {@code length} characters is drawn uniformly.
 */
public final class Sampler {
    private Sampler() { }

    /** Receives each character as it is made; returns false to stop early (e.g. a closed pipe). */
    @FunctionalInterface
    public interface Sink {
        boolean accept(int codePoint);
    }

    /** The prime followed by {@code length} generated characters, as one string. */
    public static String sample(Rnn rnn, Vocabulary vocab, String prime, int length, double temperature, long seed) {
        StringBuilder out = new StringBuilder();
        sample(rnn, vocab, prime, length, temperature, seed, cp -> {
            out.appendCodePoint(cp);
            return true;
        });
        return out.toString();
    }

    /** Streams the prime, then {@code length} generated characters, to {@code sink}, one at a time. */
    public static void sample(Rnn rnn, Vocabulary vocab, String prime, int length, double temperature, long seed, Sink sink) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("--temperature must be positive, got " + temperature);
        }
        if (length < 0) {
            throw new IllegalArgumentException("--length must be >= 0, got " + length);
        }
        Backend be = rnn.backend();
        SplittableRandom random = new SplittableRandom(seed);
        float[] bias = be.download(rnn.param("by"));
        int[] primeIds = !prime.isEmpty() ? vocab.encode(prime)
                : length > 0 ? new int[]{random.nextInt(vocab.size())} : new int[0];
        long toDraw = prime.isEmpty() ? length - primeIds.length : length;
        try (Workspace ws = rnn.workspace(1, 1)) {
            ws.resetState();
            for (int id : primeIds) {
                if (!sink.accept(vocab.codePoint(id))) {
                    return;
                }
                ws.window().setToken(0, id);
                ws.advance();
                ws.carryState();
            }
            for (long i = 0; i < toDraw; i++) {
                int id = draw(be.download(ws.lastStepLogits()), bias, temperature, random);
                if (!sink.accept(vocab.codePoint(id))) {
                    return;
                }
                if (i + 1 < toDraw) {
                    ws.window().setToken(0, id);
                    ws.advance();
                    ws.carryState();
                }
            }
        }
    }

    private static int draw(float[] logits, float[] bias, double temperature, SplittableRandom random) {
        double max = Double.NEGATIVE_INFINITY;
        double[] p = new double[logits.length];
        for (int j = 0; j < p.length; j++) {
            p[j] = (logits[j] + bias[j]) / temperature;
            max = Math.max(max, p[j]);
        }
        double sum = 0;
        for (int j = 0; j < p.length; j++) {
            p[j] = Math.exp(p[j] - max);
            sum += p[j];
        }
        double u = random.nextDouble() * sum;
        for (int j = 0; j < p.length; j++) {
            u -= p[j];
            if (u <= 0) {
                return j;
            }
        }
        return p.length - 1;
    }
}
