// TrainingState: a Trainer's whole state as a Checkpoint (weights, optimizer, hidden state, position), and back.
package bptt.train;

import bptt.backend.Backend;
import bptt.rnn.RnnConfig;
import bptt.tensor.Tensor;
import bptt.train.SafetensorsFile.TensorData;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The checkpoint holds the PyTorch-named weights (see {@link CheckpointIo}) plus, for
 * {@code --resume}: the optimizer's state slabs ({@code optim.*}, (1, P) each), every layer's
 * carried hidden state ({@code state.h}, [L, B, H], and for LSTM the cell state {@code state.c},
 * [L, B, H], PyTorch's (h, c)), the loss history ({@code metrics.history},
 * [n, 2] of step and loss) and metadata: {@code train} (the settings as JSON), {@code step},
 * {@code epoch}, {@code window} (the data position) and {@code rng} (sampling draws from
 * seed + step, so the seed is the whole RNG state).
 */
public final class TrainingState {
    private static final Gson GSON = new Gson();

    private TrainingState() { }

    public static Checkpoint capture(Trainer trainer) {
        Backend be = trainer.rnn().backend();
        RnnConfig config = trainer.rnn().config();
        TrainSettings s = trainer.settings();
        Map<String, TensorData> extras = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : trainer.optimizer().state().entrySet()) {
            extras.put(e.getKey(), new TensorData(new int[]{(int) e.getValue().size()}, be.download(e.getValue())));
        }
        int h = config.hidden();
        float[] state = trainer.carriedState();
        int perState = config.layers() * s.batch() * h;
        int[] shape = {config.layers(), s.batch(), h};
        extras.put("state.h", new TensorData(shape, Arrays.copyOfRange(state, 0, perState)));
        if (config.cell().hasCellState()) {
            extras.put("state.c", new TensorData(shape, Arrays.copyOfRange(state, perState, 2 * perState)));
        }
        List<double[]> history = trainer.history();
        float[] hist = new float[history.size() * 2];
        for (int i = 0; i < history.size(); i++) {
            hist[2 * i] = (float) history.get(i)[0];
            hist[2 * i + 1] = (float) history.get(i)[1];
        }
        extras.put("metrics.history", new TensorData(new int[]{history.size(), 2}, hist));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("train", settingsJson(s, trainer.data()));
        meta.put("step", Integer.toString(trainer.step()));
        meta.put("epoch", Integer.toString(trainer.epoch()));
        meta.put("window", Integer.toString(trainer.window()));
        meta.put("rng", "{\"sampling\":\"seed+step\",\"seed\":" + s.seed() + "}");
        Vocabulary vocab = trainer.data().vocabulary();
        return new Checkpoint(config, vocab == null ? null : vocab.codePoints(), be.download(trainer.rnn().params()),
                extras, meta);
    }

    /** Loads weights only (--init-from): the model shape and vocabulary must match. */
    public static void loadWeights(Trainer trainer, Checkpoint checkpoint) {
        requireSameModel(trainer, checkpoint);
        trainer.rnn().backend().upload(checkpoint.params(), trainer.rnn().params());
    }

    /** Restores everything (--resume), so the run continues bit for bit. */
    public static void resume(Trainer trainer, Checkpoint checkpoint) {
        requireSameModel(trainer, checkpoint);
        Backend be = trainer.rnn().backend();
        TrainSettings s = trainer.settings();
        JsonObject saved = trainSettings(checkpoint);
        if (saved.get("batch").getAsInt() != s.batch() || saved.get("seq_len").getAsInt() != s.seqLen()) {
            throw new CheckpointException(checkpoint.where() + " was trained with --batch " + saved.get("batch")
                    + " --seq-len " + saved.get("seq_len") + "; resume with the same values (or use --init-from)");
        }
        if (!saved.get("optimizer").getAsString().equals(s.optimizer().name().toLowerCase())) {
            throw new CheckpointException(checkpoint.where() + " holds " + saved.get("optimizer").getAsString()
                    + " state; resume with --optimizer " + saved.get("optimizer").getAsString() + " (or use --init-from)");
        }
        be.upload(checkpoint.params(), trainer.rnn().params());
        for (Map.Entry<String, Tensor> e : trainer.optimizer().state().entrySet()) {
            be.upload(checkpoint.extra(e.getKey(), (int) e.getValue().size()), e.getValue());
        }
        RnnConfig config = trainer.rnn().config();
        int h = config.hidden();
        float[] state = checkpoint.extra("state.h", config.layers(), s.batch(), h);
        if (config.cell().hasCellState()) {
            float[] c = checkpoint.extra("state.c", config.layers(), s.batch(), h);
            state = Arrays.copyOf(state, 2 * state.length);
            System.arraycopy(c, 0, state, c.length, c.length);
        }
        trainer.restoreCarriedState(state);
        TensorData hist = checkpoint.extras().get("metrics.history");
        if (hist != null && hist.shape().length == 2) {
            for (int i = 0; i < hist.shape()[0]; i++) {
                trainer.history().add(new double[]{hist.values()[2 * i], hist.values()[2 * i + 1]});
            }
        }
        trainer.restorePosition(intMeta(checkpoint, "step"), intMeta(checkpoint, "epoch"), intMeta(checkpoint, "window"));
    }

    /** The settings a checkpoint was trained with, as saved in its "train" metadata. */
    public static JsonObject trainSettings(Checkpoint checkpoint) {
        try {
            return GSON.fromJson(checkpoint.meta("train"), JsonObject.class);
        } catch (JsonParseException | IllegalStateException e) {
            throw new CheckpointException(checkpoint.where() + " has unreadable \"train\" metadata: " + e.getMessage());
        }
    }

    private static int intMeta(Checkpoint checkpoint, String key) {
        try {
            return Integer.parseInt(checkpoint.meta(key));
        } catch (NumberFormatException e) {
            throw new CheckpointException(checkpoint.where() + " has metadata " + key + "=\"" + checkpoint.meta(key)
                    + "\", not a whole number");
        }
    }

    private static void requireSameModel(Trainer trainer, Checkpoint checkpoint) {
        RnnConfig here = trainer.rnn().config();
        RnnConfig there = checkpoint.config();
        if (!here.equals(there)) {
            throw new CheckpointException(checkpoint.where() + " holds a " + there.cell().option() + " model of "
                    + there.layers() + " layer(s) × " + there.hidden() + " hidden with " + there.outputSize()
                    + " classes, but this run builds a " + here.cell().option() + " model of " + here.layers() + " × "
                    + here.hidden() + " with " + here.outputSize()
                    + "; pass the checkpoint's --cell/--hidden/--layers and the data it was trained on");
        }
        if (trainer.data().vocabulary() != null) {
            checkpoint.requireVocab(trainer.data().vocabulary().codePoints());
        }
    }

    private static String settingsJson(TrainSettings s, Dataset data) {
        JsonObject o = new JsonObject();
        o.addProperty("task", data.kind());
        o.addProperty("data", data instanceof TextDataset text ? text.corpus().source() : data.description());
        o.addProperty("cell", s.cell().option());
        o.addProperty("hidden", s.hidden());
        o.addProperty("layers", s.layers());
        o.addProperty("batch", s.batch());
        o.addProperty("seq_len", s.seqLen());
        o.addProperty("steps", s.steps());
        o.addProperty("lr", s.lr());
        o.addProperty("optimizer", s.optimizer().name().toLowerCase());
        o.addProperty("clip", s.clip());
        o.addProperty("seed", s.seed());
        o.addProperty("val_fraction", s.valFraction());
        return GSON.toJson(o);
    }
}
