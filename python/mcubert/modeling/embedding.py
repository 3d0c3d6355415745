# SPDX-License-Identifier: Apache-2.0
"""Clustered low-rank word embedding: each token cluster c stores U_c (n_c x r_c) and V_c (r_c x hidden)."""

import torch
from torch import nn


def contiguous_clusters(vocab_size: int, k: int) -> torch.LongTensor:
    """Cluster id per token: k contiguous, nearly equal id ranges, cluster 0 holding the lowest ids."""
    if not 1 <= k <= vocab_size:
        raise ValueError(f"need 1 <= clusters <= vocab_size, got clusters={k}, vocab_size={vocab_size}")
    return torch.arange(vocab_size, device="cpu") * k // vocab_size


def clusters_from_sizes(sizes: list[int]) -> torch.LongTensor:
    """Cluster id per token for contiguous clusters of the given sizes."""
    cpu = torch.device("cpu")
    return torch.repeat_interleave(torch.arange(len(sizes), device=cpu), torch.tensor(sizes, device=cpu))


class ClusteredLowRankEmbedding(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, cluster_of: torch.Tensor, ranks: list[int], init_std=0.02):
        super().__init__()
        # Index bookkeeping on CPU, even inside transformers' meta-device init context.
        cpu = torch.device("cpu")
        cluster_of = torch.as_tensor(cluster_of, dtype=torch.long, device=cpu).reshape(-1)
        k = len(ranks)
        if cluster_of.numel() != vocab_size:
            raise ValueError(f"cluster_of has {cluster_of.numel()} entries, expected vocab_size {vocab_size}")
        if vocab_size and not (0 <= int(cluster_of.min()) and int(cluster_of.max()) < k):
            raise ValueError(f"cluster ids must lie in [0, {k}) for {k} ranks")
        for c, r in enumerate(ranks):
            if not 0 <= r <= hidden_size:
                raise ValueError(f"cluster {c}: rank {r} not in [0, hidden_size {hidden_size}]")
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.ranks = [int(r) for r in ranks]
        sizes = torch.bincount(cluster_of, minlength=k).tolist()
        self.sizes = sizes

        # Row of each token inside its cluster: stable sort keeps token-id order within a cluster.
        order = torch.sort(cluster_of, stable=True).indices
        starts = torch.cumsum(torch.tensor([0] + sizes[:-1], device=cpu), 0)
        row = torch.empty_like(cluster_of)
        row[order] = torch.arange(vocab_size, device=cpu) - starts[cluster_of[order]]
        # Persistent: a checkpoint carries its own token -> (cluster, row) map.
        self.register_buffer("token_cluster", cluster_of.clone())
        self.register_buffer("token_row", row)

        # U ~ N(0, 1), V ~ N(0, std^2 / r) gives entries of U @ V with std init_std, like nn.Embedding init.
        # nn.init (not torch.randn) so transformers can skip it when loading a checkpoint.
        self.U = nn.ParameterList([nn.Parameter(torch.empty(n, r)) for n, r in zip(sizes, self.ranks)])
        self.V = nn.ParameterList([nn.Parameter(torch.empty(r, hidden_size)) for r in self.ranks])
        for u, v, r in zip(self.U, self.V, self.ranks):
            if r:
                nn.init.normal_(u, std=1.0)
                nn.init.normal_(v, std=init_std / r**0.5)

    # nn.Embedding-like attributes some transformers helpers look at
    @property
    def num_embeddings(self) -> int:
        return self.vocab_size

    @property
    def embedding_dim(self) -> int:
        return self.hidden_size

    @property
    def num_clusters(self) -> int:
        return len(self.ranks)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        flat = input_ids.reshape(-1)
        cluster, row = self.token_cluster[flat], self.token_row[flat]
        out = self.V[0].new_zeros(flat.numel(), self.hidden_size)
        for c, r in enumerate(self.ranks):
            if r == 0:
                continue  # rank-0 cluster: its tokens keep zero vectors
            pos = (cluster == c).nonzero().squeeze(1)
            out = out.index_copy(0, pos, self.U[c][row[pos]] @ self.V[c])
        return out.view(*input_ids.shape, self.hidden_size)

    @torch.no_grad()
    def dense(self) -> torch.Tensor:
        """The (vocab x hidden) table this module represents."""
        return self(torch.arange(self.vocab_size, device=self.token_cluster.device))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.U) + sum(p.numel() for p in self.V)

    @classmethod
    @torch.no_grad()
    def from_dense(cls, weight: torch.Tensor, cluster_of: torch.Tensor, ranks: list[int]):
        """Per-cluster truncated SVD of a dense table: U_c = left vectors[:, :r], V_c = diag(S[:r]) @ Vt[:r]."""
        vocab_size, hidden_size = weight.shape
        cluster_of = torch.as_tensor(cluster_of, dtype=torch.long, device=weight.device).reshape(-1)
        sizes = torch.bincount(cluster_of, minlength=len(ranks)).tolist()
        for c, (n, r) in enumerate(zip(sizes, ranks)):
            if not 0 <= r <= min(n, hidden_size):
                raise ValueError(
                    f"cluster {c}: rank {r} not in [0, min(cluster size {n}, hidden_size {hidden_size})]"
                )
        emb = cls(vocab_size, hidden_size, cluster_of.cpu(), ranks).to(device=weight.device, dtype=weight.dtype)
        for c, r in enumerate(emb.ranks):
            if r == 0:
                continue
            # Boolean-mask rows come out in increasing token id, matching token_row.
            block = weight[cluster_of == c].double()  # float64 so full rank reconstructs to ~1e-15
            u, s, vt = torch.linalg.svd(block, full_matrices=False)
            emb.U[c].copy_(u[:, :r])
            emb.V[c].copy_(s[:r, None] * vt[:r])
        return emb

    def extra_repr(self) -> str:
        return f"{self.vocab_size}, {self.hidden_size}, sizes={self.sizes}, ranks={self.ranks}"


class LowRankPositions(nn.Module):
    """Position table P = A @ B (A: max_positions x r, B: r x hidden), in place of BertEmbeddings'
    nn.Embedding: forward(position_ids) = A[position_ids] @ B."""

    def __init__(self, max_positions: int, rank: int, hidden_size: int, init_std=0.02):
        super().__init__()
        if not 1 <= rank <= hidden_size:
            raise ValueError(f"position rank {rank} not in [1, hidden_size {hidden_size}]")
        self.max_positions, self.rank, self.hidden_size = max_positions, rank, hidden_size
        self.A = nn.Parameter(torch.empty(max_positions, rank))
        self.B = nn.Parameter(torch.empty(rank, hidden_size))
        # entries of A @ B with std init_std, like nn.Embedding init (nn.init: skipped on load)
        nn.init.normal_(self.A, std=1.0)
        nn.init.normal_(self.B, std=init_std / rank**0.5)

    @property
    def num_embeddings(self) -> int:
        return self.max_positions

    @property
    def embedding_dim(self) -> int:
        return self.hidden_size

    @property
    def weight(self) -> torch.Tensor:
        """The (max_positions x hidden) table (code that reads .position_embeddings.weight)."""
        return self.A @ self.B

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return self.A[position_ids] @ self.B

    @classmethod
    @torch.no_grad()
    def from_dense(cls, weight: torch.Tensor, rank: int):
        """Truncated SVD of a dense table: A = U_r * S_r, B = V_r^T."""
        n, hidden = weight.shape
        if not 1 <= rank <= min(n, hidden):
            raise ValueError(f"position rank {rank} not in [1, min(max_positions {n}, hidden_size {hidden})]")
        u, s, vt = torch.linalg.svd(weight.double(), full_matrices=False)
        m = cls(n, rank, hidden).to(device=weight.device, dtype=weight.dtype)
        m.A.copy_(u[:, :rank] * s[:rank])
        m.B.copy_(vt[:rank])
        return m

    def extra_repr(self) -> str:
        return f"{self.max_positions}, {self.hidden_size}, rank={self.rank}"
