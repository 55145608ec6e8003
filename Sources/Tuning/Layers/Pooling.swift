import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// How a sequence of token vectors becomes one vector.
public enum Pooling: String, Sendable {
    /// The mean over real tokens (sentence-transformers' default).
    case mean
    /// The first token (BERT's and ViT's `[CLS]`).
    case cls
    /// The first token through the model's `pooler.dense` and tanh (Hugging Face's
    /// `BertForSequenceClassification`).
    case pooler
}
