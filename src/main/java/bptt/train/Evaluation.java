// Evaluation: mean cross-entropy of a model over a whole token sequence, and bits per character.
package bptt.train;

import bptt.rnn.Workspace;

/** Loss over all targets of a token sequence, batched like training, state carried across windows. */
public final class Evaluation {
    private Evaluation() { }

    /** Mean loss in nats and the number of targets it averages. */
    public record Result(double loss, long tokens) {
        public double bpc() { return loss / Math.log(2); }
    }

    /** Resets the workspace's hidden state first; leaves it holding the final state. */
    public static Result evaluate(Workspace ws, int[] tokens) {
        TokenStreams streams = new TokenStreams(tokens, ws.batch());
        int seqLen = ws.seqLen();
        float[] inputs = new float[ws.batch() * seqLen];
        float[] targets = new float[ws.batch() * seqLen];
        double sum = 0;
        long count = 0;
        ws.resetState();
        for (int w = 0; w < streams.windows(seqLen); w++) {
            streams.fill(w, seqLen, inputs, targets);
            ws.setInputs(inputs);
            ws.setTargets(targets);
            double loss = ws.forward();
            sum += loss * ws.targetCount();
            count += ws.targetCount();
            ws.carryState();
        }
        return new Result(sum / count, count);
    }
}
