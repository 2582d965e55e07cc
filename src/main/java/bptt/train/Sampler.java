// Sampler: generates text from a character model, one step at a time on the device.
package bptt.train;

import bptt.backend.Backend;
import bptt.rnn.Rnn;
import bptt.rnn.Workspace;

import java.util.SplittableRandom;

/** Feeds the prime text, then draws each next character from softmax(logits / temperature). */
public final class Sampler {
    private Sampler() { }

    public static String sample(Rnn rnn, Vocabulary vocab, String prime, int length, double temperature, long seed) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("--temperature must be positive, got " + temperature);
        }
        if (length < 0) {
            throw new IllegalArgumentException("--length must be >= 0, got " + length);
        }
        Backend be = rnn.backend();
        SplittableRandom random = new SplittableRandom(seed);
        float[] bias = be.download(rnn.param("by"));
        int[] primeIds = prime.isEmpty() ? new int[]{random.nextInt(vocab.size())} : vocab.encode(prime);
        StringBuilder out = new StringBuilder(prime.isEmpty() ? "" : prime);
        try (Workspace ws = rnn.workspace(1, 1)) {
            ws.resetState();
            float[] input = new float[1];
            for (int i = 0; i < primeIds.length + length; i++) {
                int id = i < primeIds.length ? primeIds[i] : draw(be.download(ws.computeLogits()), bias, temperature, random);
                if (i >= primeIds.length || prime.isEmpty()) {
                    out.appendCodePoint(vocab.codePoint(id));
                }
                input[0] = id;
                ws.setInputs(input);
                ws.forwardStates();
                ws.carryState();
            }
        }
        return out.toString();
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
