// CheckpointIo: save and load checkpoints under the tensor names PyTorch's nn.RNN + nn.Linear use.
package bptt.train;

import bptt.rnn.Cell;
import bptt.rnn.OutputKind;
import bptt.rnn.ParameterLayout;
import bptt.rnn.RnnConfig;
import bptt.train.SafetensorsFile.Contents;
import bptt.train.SafetensorsFile.TensorData;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The file holds, per layer k, {@code rnn.weight_ih_l{k}} = Wax (G·H, D), {@code rnn.weight_hh_l{k}}
 * = Waa (G·H, H), {@code rnn.bias_ih_l{k}} = ba (G·H) and {@code rnn.bias_hh_l{k}} (G·H); then
 * {@code decoder.weight} = Wya (V, H) and {@code decoder.bias} = by (V), all F32: what
 * {@code nn.RNN(D, H, L)}, {@code nn.LSTM} (G = 4, gates i, f, g, o) or {@code nn.GRU} (G = 3,
 * r, z, n) and {@code nn.Linear(H, V)} load (the extra resume tensors aside, so load with
 * {@code strict=False} or drop them). LSTM and GRU keep both biases as parameters; the tanh cell
 * has one, written as bias_ih with zeros as bias_hh, and reading takes their sum. Metadata
 * {@code config} is the model shape as JSON ({@code model}: rnn_tanh, lstm or gru), {@code vocab}
 * a JSON array of one-character strings in token-id order, {@code format} is "pt"; the
 * checkpoint's own metadata goes beside. A model whose output is not a class per step records it
 * as {@code output} in the config: {@code values} (D_out real values per step, mean squared
 * error), {@code sequence_class} or {@code sequence_values} (from the last step only); the
 * decoder then maps H to D_out values or classes, as {@code nn.Linear(H, D_out)} does.
 */
public final class CheckpointIo {
    public static final String CONFIG = "config";
    public static final String VOCAB = "vocab";
    public static final String FORMAT = "format";
    private static final Set<String> RESERVED = Set.of(CONFIG, VOCAB, FORMAT);
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    private CheckpointIo() {}

    /** Writes {@code checkpoint} to {@code path} atomically. */
    public static void save(Path path, Checkpoint checkpoint) {
        Map<String, TensorData> tensors = pytorchTensors(new ParameterLayout(checkpoint.config()), checkpoint.params());
        for (Map.Entry<String, TensorData> e : checkpoint.extras().entrySet()) {
            if (tensors.containsKey(e.getKey())) {
                throw new IllegalArgumentException("extra tensor " + e.getKey() + " clashes with a model tensor");
            }
            tensors.put(e.getKey(), e.getValue());
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put(FORMAT, "pt");
        metadata.put(CONFIG, configJson(checkpoint.config()));
        if (checkpoint.vocab() != null) {
            metadata.put(VOCAB, vocabJson(checkpoint.vocab()));
        }
        for (Map.Entry<String, String> e : checkpoint.metadata().entrySet()) {
            if (RESERVED.contains(e.getKey())) {
                throw new IllegalArgumentException("metadata key " + e.getKey() + " is reserved");
            }
            metadata.put(e.getKey(), e.getValue());
        }
        SafetensorsFile.write(path, tensors, metadata);
    }

    /** Reads a checkpoint; its config comes from the metadata or, for a file without one, the tensor shapes. */
    public static Checkpoint load(Path path) {
        Contents contents = SafetensorsFile.read(path);
        String where = "checkpoint " + path;
        Map<String, String> meta = contents.metadata();
        RnnConfig config = meta.containsKey(CONFIG)
                ? parseConfig(where, meta.get(CONFIG))
                : inferConfig(where, contents.tensors());
        int[] vocab = meta.containsKey(VOCAB) ? parseVocab(where, meta.get(VOCAB)) : null;
        if (vocab != null && vocab.length != config.outputSize()) {
            throw new CheckpointException(where + " is inconsistent: its vocabulary has " + vocab.length
                    + " characters but its config has output_size " + config.outputSize());
        }
        ParameterLayout layout = new ParameterLayout(config);
        float[] params = engineParams(where, layout, contents.tensors());
        Set<String> modelNames = pytorchTensors(layout, params).keySet();
        Map<String, TensorData> extras = new LinkedHashMap<>(contents.tensors());
        extras.keySet().removeAll(modelNames);
        Map<String, String> rest = new LinkedHashMap<>(meta);
        rest.keySet().removeAll(RESERVED);
        Checkpoint checkpoint = new Checkpoint(config, vocab, params, extras, rest, path);
        String nonFinite = firstNonFinite(checkpoint);
        if (nonFinite != null) {
            throw new CheckpointException(where + " holds a non-finite value: " + nonFinite + "; it was saved from a"
                    + " diverged run or altered since, and cannot be used: take an earlier checkpoint or retrain");
        }
        return checkpoint;
    }

    /**
     * The first NaN or infinity among the weights and the extra tensors (optimizer and hidden
     * state), as "rnn.weight_hh_l0[17] is NaN", or null when every value is finite.
     */
    public static String firstNonFinite(Checkpoint checkpoint) {
        Map<String, TensorData> all = pytorchTensors(new ParameterLayout(checkpoint.config()), checkpoint.params());
        all.putAll(checkpoint.extras());
        for (Map.Entry<String, TensorData> e : all.entrySet()) {
            float[] v = e.getValue().values();
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    return e.getKey() + "[" + i + "] is " + v[i];
                }
            }
        }
        return null;
    }

    /**
     * Why a run of model {@code config} with vocabulary {@code vocab} (null for a task model)
     * should not replace the file at {@code path}, reading only its header: it is not a bptt
     * checkpoint, or holds another model or vocabulary. Null when it holds the same model.
     */
    public static String differenceFrom(Path path, RnnConfig config, int[] vocab) {
        Map<String, String> meta;
        try {
            meta = SafetensorsFile.readMetadata(path);
        } catch (CheckpointException e) {
            return path + " exists and is not a readable checkpoint";
        }
        if (!meta.containsKey(CONFIG)) {
            return path + " holds a safetensors file without bptt's \"config\"";
        }
        RnnConfig there;
        int[] theirs;
        try {
            there = parseConfig("checkpoint " + path, meta.get(CONFIG));
            theirs = meta.containsKey(VOCAB) ? parseVocab("checkpoint " + path, meta.get(VOCAB)) : null;
        } catch (CheckpointException e) {
            return path + " has unreadable metadata";
        }
        if (!there.equals(config)) {
            return path + " holds another model (" + there.layers() + " layer(s) × " + there.hidden()
                    + " hidden, " + there.outputSize() + " " + outputs(there) + "; this run: " + config.layers() + " × "
                    + config.hidden() + ", " + config.outputSize() + " " + outputs(config) + ")";
        }
        if (!Arrays.equals(theirs, vocab)) {
            return path + " holds a model of another vocabulary than this run's data";
        }
        return null;
    }

    /** "classes", or "values" for a regression output. */
    private static String outputs(RnnConfig config) { return config.output().regression() ? "values" : "classes"; }

    /** Reads a checkpoint that must have exactly the model shape {@code expected}. */
    public static Checkpoint load(Path path, RnnConfig expected) {
        Checkpoint checkpoint = load(path);
        RnnConfig found = checkpoint.config();
        if (!found.equals(expected)) {
            StringBuilder diff = new StringBuilder();
            differ(diff, "model", found.cell().model(), expected.cell().model(), "--cell");
            differ(diff, "input_size", found.inputSize(), expected.inputSize(), "the vocabulary size");
            differ(diff, "token_input", found.tokenInput(), expected.tokenInput(), "the input kind");
            differ(diff, "hidden_size", found.hidden(), expected.hidden(), "--hidden");
            differ(diff, "num_layers", found.layers(), expected.layers(), "--layers");
            differ(diff, "output_size", found.outputSize(), expected.outputSize(), "the vocabulary size");
            differ(diff, "output", found.output().id(), expected.output().id(), "the output kind");
            throw new CheckpointException("checkpoint " + path + " does not fit this model: " + diff
                    + "; use the checkpoint's settings, or train a new model without it");
        }
        return checkpoint;
    }

    private static void differ(StringBuilder out, String field, Object found, Object expected, String knob) {
        if (!found.equals(expected)) {
            out.append(out.length() == 0 ? "" : ", ").append(field).append(" is ").append(found)
                    .append(" in the checkpoint but ").append(expected).append(" here (").append(knob).append(')');
        }
    }

    /** The parameter slab as PyTorch-named tensors, in nn.RNN's then nn.Linear's state_dict order. */
    public static Map<String, TensorData> pytorchTensors(ParameterLayout layout, float[] params) {
        if (params.length != layout.total()) {
            throw new IllegalArgumentException("parameter slab has " + params.length + " floats, layout needs " + layout.total());
        }
        RnnConfig config = layout.config();
        int h = config.hidden();
        int gh = config.gateWidth();
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (int k = 0; k < config.layers(); k++) {
            out.put(weightIh(k), slice(layout.entry(ParameterLayout.wax(k)), params, gh, config.layerInput(k)));
            out.put(weightHh(k), slice(layout.entry(ParameterLayout.waa(k)), params, gh, h));
            out.put(biasIh(k), slice(layout.entry(ParameterLayout.ba(k)), params, gh));
            out.put(biasHh(k), config.cell().twoBiases() ? slice(layout.entry(ParameterLayout.bh(k)), params, gh)
                    : TensorData.vector(new float[h]));
        }
        out.put("decoder.weight", slice(layout.entry("Wya"), params, config.outputSize(), h));
        out.put("decoder.bias", slice(layout.entry("by"), params, config.outputSize()));
        return out;
    }

    private static TensorData slice(ParameterLayout.Entry entry, float[] params, int... shape) {
        int start = (int) entry.start();
        return new TensorData(shape, Arrays.copyOfRange(params, start, start + (int) entry.size()));
    }

    /** The parameter slab from PyTorch-named tensors, checking every name and shape. */
    static float[] engineParams(String where, ParameterLayout layout, Map<String, TensorData> tensors) {
        RnnConfig config = layout.config();
        int h = config.hidden();
        int gh = config.gateWidth();
        float[] params = new float[(int) layout.total()];
        for (int k = 0; k < config.layers(); k++) {
            put(params, layout.entry(ParameterLayout.wax(k)), need(where, tensors, weightIh(k), gh, config.layerInput(k)));
            put(params, layout.entry(ParameterLayout.waa(k)), need(where, tensors, weightHh(k), gh, h));
            float[] bias = need(where, tensors, biasIh(k), gh).clone();
            float[] biasHh = need(where, tensors, biasHh(k), gh);
            if (config.cell().twoBiases()) {
                put(params, layout.entry(ParameterLayout.bh(k)), biasHh);
            } else {
                for (int i = 0; i < h; i++) {
                    bias[i] += biasHh[i];
                }
            }
            put(params, layout.entry(ParameterLayout.ba(k)), bias);
        }
        put(params, layout.entry("Wya"), need(where, tensors, "decoder.weight", config.outputSize(), h));
        put(params, layout.entry("by"), need(where, tensors, "decoder.bias", config.outputSize()));
        return params;
    }

    private static void put(float[] params, ParameterLayout.Entry entry, float[] values) {
        System.arraycopy(values, 0, params, (int) entry.start(), values.length);
    }

    private static float[] need(String where, Map<String, TensorData> tensors, String name, int... shape) {
        TensorData t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(where + " has no tensor \"" + name + "\" of shape " + Arrays.toString(shape)
                    + ", which the model needs; it holds " + tensors.keySet() + ". Is it a checkpoint of this tool?");
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw new CheckpointException(where + ": tensor \"" + name + "\" has shape " + Arrays.toString(t.shape())
                    + " but the model needs " + Arrays.toString(shape) + "; the file's tensors do not match its config");
        }
        return t.values();
    }

    /**
     * A file without a config (e.g. saved from PyTorch): read the shape off its tensors; the cell
     * from weight_hh_l0 (G·H, H): G = 1 tanh, 4 LSTM, 3 GRU.
     */
    private static RnnConfig inferConfig(String where, Map<String, TensorData> tensors) {
        int layers = 0;
        while (tensors.containsKey(weightHh(layers))) {
            layers++;
        }
        TensorData ih = tensors.get(weightIh(0));
        TensorData hh = tensors.get(weightHh(0));
        TensorData decoder = tensors.get("decoder.weight");
        if (layers == 0 || ih == null || decoder == null || ih.shape().length != 2 || decoder.shape().length != 2
                || hh.shape().length != 2) {
            throw new CheckpointException(where + " has no \"config\" metadata and no 2-D tensors "
                    + weightIh(0) + ", " + weightHh(0) + " and decoder.weight to infer the model from; "
                    + "is it a checkpoint of an nn.RNN, nn.LSTM or nn.GRU + nn.Linear model?");
        }
        int hidden = hh.shape()[1];
        Cell cell = null;
        for (Cell c : Cell.values()) {
            if (hh.shape()[0] == (long) c.gates() * hidden) {
                cell = c;
            }
        }
        if (cell == null) {
            throw new CheckpointException(where + ": " + weightHh(0) + " has shape " + Arrays.toString(hh.shape())
                    + ", which is no tanh (H,H), LSTM (4H,H) or GRU (3H,H) weight");
        }
        int inputSize = ih.shape()[1];
        int outputSize = decoder.shape()[0];
        try {
            return new RnnConfig(inputSize, inputSize == outputSize, hidden, layers, outputSize, cell);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(where + " describes an impossible model: " + e.getMessage());
        }
    }

    /** The model shape as JSON, with nn.RNN's argument names. */
    public static String configJson(RnnConfig config) {
        JsonObject o = new JsonObject();
        o.addProperty("model", config.cell().model());
        o.addProperty("input_size", config.inputSize());
        o.addProperty("token_input", config.tokenInput());
        o.addProperty("hidden_size", config.hidden());
        o.addProperty("num_layers", config.layers());
        o.addProperty("output_size", config.outputSize());
        if (config.output() != OutputKind.CLASSES) {
            o.addProperty("output", config.output().id());
        }
        return GSON.toJson(o);
    }

    static RnnConfig parseConfig(String where, String json) {
        try {
            JsonObject o = JsonParser.parseString(json).getAsJsonObject();
            String model = o.has("model") ? o.get("model").getAsString() : "rnn_tanh";
            Cell cell = Cell.ofModel(model);
            if (cell == null) {
                throw new CheckpointException(where + " holds a \"" + model + "\" model; this tool trains rnn_tanh,"
                        + " lstm and gru");
            }
            OutputKind output = o.has("output") ? OutputKind.ofId(o.get("output").getAsString()) : OutputKind.CLASSES;
            if (output == null) {
                throw new CheckpointException(where + " has an output \"" + o.get("output").getAsString() + "\" that this"
                        + " tool does not know; it reads classes, values, sequence_class and sequence_values");
            }
            return new RnnConfig(intField(o, "input_size"), booleanField(o, "token_input"),
                    intField(o, "hidden_size"), intField(o, "num_layers"), intField(o, "output_size"), cell, output);
        } catch (JsonParseException | IllegalStateException | UnsupportedOperationException | ArithmeticException
                 | NumberFormatException e) {
            throw new CheckpointException(where + " has corrupt \"config\" metadata (" + problem(e) + "): " + snippet(json)
                    + "; use an intact checkpoint or retrain");
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(where + " has an impossible \"config\": " + e.getMessage());
        }
    }

    private static int intField(JsonObject o, String name) {
        JsonElement e = o.get(name);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw new IllegalStateException("\"" + name + "\" is missing or not a number");
        }
        return e.getAsBigDecimal().intValueExact();
    }

    private static boolean booleanField(JsonObject o, String name) {
        JsonElement e = o.get(name);
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw new IllegalStateException("\"" + name + "\" is missing or not true/false");
        }
        return e.getAsBoolean();
    }

    /** The vocabulary as a JSON array of one-character strings, index = token id. */
    public static String vocabJson(int[] codePoints) {
        List<String> chars = Arrays.stream(codePoints).mapToObj(Character::toString).toList();
        return GSON.toJson(chars);
    }

    static int[] parseVocab(String where, String json) {
        try {
            JsonArray array = JsonParser.parseString(json).getAsJsonArray();
            int[] vocab = new int[array.size()];
            for (int i = 0; i < vocab.length; i++) {
                String s = array.get(i).getAsString();
                if (s.codePointCount(0, s.length()) != 1) {
                    throw new IllegalStateException("entry " + i + " is not one character: " + GSON.toJson(s));
                }
                vocab[i] = s.codePointAt(0);
            }
            return vocab;
        } catch (JsonParseException | IllegalStateException | UnsupportedOperationException e) {
            throw new CheckpointException(where + " has corrupt \"vocab\" metadata (" + problem(e) + "): " + snippet(json)
                    + "; expected a JSON array of one-character strings");
        }
    }

    /** What was wrong with a JSON value, in one line and without the JSON library's own wording. */
    private static String problem(RuntimeException e) {
        return e instanceof JsonParseException ? "not valid JSON"
                : e.getMessage() == null ? "not the expected JSON" : e.getMessage().lines().findFirst().orElse("");
    }

    /** A JSON text as one short quoted line. */
    static String snippet(String json) {
        String oneLine = json.replaceAll("\\s+", " ");
        return GSON.toJson(oneLine.length() > 60 ? oneLine.substring(0, 60) + "…" : oneLine);
    }

    public static String weightIh(int layer) { return "rnn.weight_ih_l" + layer; }

    public static String weightHh(int layer) { return "rnn.weight_hh_l" + layer; }

    public static String biasIh(int layer) { return "rnn.bias_ih_l" + layer; }

    public static String biasHh(int layer) { return "rnn.bias_hh_l" + layer; }
}
