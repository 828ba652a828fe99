#include "crossrec/topk.hpp"

#include <cstdint>
#include <vector>

#include "crossrec/dense.hpp"
#include "crossrec/parallel.hpp"

namespace crossrec {

void topn_from_scores(const DenseView& scores, const CsrView* exclude, const int32_t* exclude_rows,
                      const int32_t* candidates, int64_t n_candidates, int n, int32_t* out_items, float* out_scores,
                      int n_threads) {
  const int64_t n_items = scores.n_cols;
  const int64_t n_positions = candidates ? n_candidates : n_items;
  struct Scratch {
    TopNHeap heap;
    std::vector<int64_t> stamp;  // stamp[item] == row + 1 marks an excluded item for this row
  };
  parallel_for(
      scores.n_rows, n_threads, 16,
      [&] { return Scratch{TopNHeap(n), std::vector<int64_t>(exclude ? n_items : 0, 0)}; },
      [&](int64_t r, Scratch& s) {
        s.heap.clear();
        const float* row = scores.row(r);
        if (exclude) {
          const int32_t er = exclude_rows[r];
          for (int64_t p = exclude->begin(er); p < exclude->end(er); ++p) s.stamp[exclude->indices[p]] = r + 1;
        }
        for (int64_t p = 0; p < n_positions; ++p) {
          const int32_t item = candidates ? candidates[p] : static_cast<int32_t>(p);
          const float v = row[item];
          if (s.heap.full() && v < s.heap.threshold()) continue;
          if (exclude && s.stamp[item] == r + 1) continue;
          s.heap.push(item, v);
        }
        s.heap.write(out_items + r * n, out_scores + r * n);
      });
}

namespace {

constexpr int kUserBlock = 16;       // users scored together against one tile of items
constexpr int64_t kItemTile = 1024;  // items whose factors stay in cache for a user block
constexpr int kLanes = 16;           // items per register block of the micro-kernel

// out[u * ldo + j] = sum_k rows[u][k] * vt[k * ldv + j] for NU users and kLanes items: a small
// register-blocked GEMM (NU x kLanes accumulators), so each loaded item vector feeds NU FMAs and
// no horizontal reduction is needed.
template <int NU>
inline void micro_kernel(const float* const* rows, const float* vt, int64_t f, int64_t ldv, float* out, int64_t ldo) {
  float acc[NU][kLanes] = {};
  for (int64_t k = 0; k < f; ++k) {
    const float* v = vt + k * ldv;
    for (int u = 0; u < NU; ++u) {
      const float a = rows[u][k];
#pragma omp simd
      for (int j = 0; j < kLanes; ++j) acc[u][j] += a * v[j];
    }
  }
  for (int u = 0; u < NU; ++u)
    for (int j = 0; j < kLanes; ++j) out[u * ldo + j] = acc[u][j];
}

// Scores of one user block against items p0..p1 of the k-major item factors `vt` (row stride
// ldv, zero-padded to a multiple of kLanes). out has row stride ldo >= the padded tile width.
CROSSREC_TARGET_CLONES
void score_tile(const float* const* user_rows, int n_users, int64_t f, const float* vt, int64_t ldv, const float* bias,
                int64_t p0, int64_t p1, float* out, int64_t ldo) {
  const int64_t padded = (p1 - p0 + kLanes - 1) / kLanes * kLanes;
  for (int64_t j0 = 0; j0 < padded; j0 += kLanes) {
    int u = 0;
    for (; u + 4 <= n_users; u += 4) micro_kernel<4>(user_rows + u, vt + p0 + j0, f, ldv, out + u * ldo + j0, ldo);
    for (; u < n_users; ++u) micro_kernel<1>(user_rows + u, vt + p0 + j0, f, ldv, out + u * ldo + j0, ldo);
  }
  if (bias) {
    for (int u = 0; u < n_users; ++u)
      for (int64_t j = 0; j < p1 - p0; ++j) out[u * ldo + j] += bias[p0 + j];
  }
}

// Item factors of the ranked positions (all items, or the candidates) transposed to k-major
// order, padded with zero columns to a multiple of kLanes; biases gathered the same way.
struct KMajorItems {
  std::vector<float> vt;
  std::vector<float> bias;
  int64_t ld = 0;
};

KMajorItems k_major_items(const DenseView& V, const float* item_bias, const int32_t* candidates, int64_t n_positions) {
  KMajorItems t;
  const int64_t f = V.n_cols;
  t.ld = (n_positions + kLanes - 1) / kLanes * kLanes;
  t.vt.assign(static_cast<size_t>(f * t.ld), 0.0f);
  constexpr int64_t kBlock = 64;  // cache-blocked transpose
  for (int64_t j0 = 0; j0 < n_positions; j0 += kBlock) {
    const int64_t j1 = std::min(n_positions, j0 + kBlock);
    for (int64_t k0 = 0; k0 < f; k0 += kBlock) {
      const int64_t k1 = std::min(f, k0 + kBlock);
      for (int64_t j = j0; j < j1; ++j) {
        const float* v = V.row(candidates ? candidates[j] : j);
        for (int64_t k = k0; k < k1; ++k) t.vt[k * t.ld + j] = v[k];
      }
    }
  }
  if (item_bias) {
    t.bias.resize(static_cast<size_t>(n_positions));
    for (int64_t j = 0; j < n_positions; ++j) t.bias[j] = item_bias[candidates ? candidates[j] : j];
  }
  return t;
}

}  // namespace

void topn_from_factors(const DenseView& U, const DenseView& V, const float* item_bias, const CsrView* exclude,
                       const int32_t* exclude_rows, const int32_t* candidates, int64_t n_candidates, int n,
                       int32_t* out_items, float* out_scores, int n_threads) {
  const int64_t n_items = V.n_rows;
  const int64_t n_positions = candidates ? n_candidates : n_items;
  const int64_t n_blocks = (U.n_rows + kUserBlock - 1) / kUserBlock;
  struct Scratch {
    std::vector<TopNHeap> heaps;
    std::vector<uint16_t> excluded;  // bit u set: user u of the block excludes this item
    std::vector<float> tile;         // kUserBlock x kItemTile scores
  };
  const KMajorItems items = k_major_items(V, item_bias, candidates, n_positions);
  static_assert(kUserBlock <= 16, "excluded bits are a uint16_t");
  parallel_for(
      n_blocks, n_threads, 1,
      [&] {
        return Scratch{std::vector<TopNHeap>(kUserBlock, TopNHeap(n)), std::vector<uint16_t>(exclude ? n_items : 0, 0),
                       std::vector<float>(kUserBlock * kItemTile)};
      },
      [&](int64_t block, Scratch& s) {
        const int64_t u0 = block * kUserBlock;
        const int n_users = static_cast<int>(std::min<int64_t>(kUserBlock, U.n_rows - u0));
        const float* user_rows[kUserBlock];
        for (int u = 0; u < n_users; ++u) {
          user_rows[u] = U.row(u0 + u);
          s.heaps[u].clear();
          if (exclude) {
            const int32_t er = exclude_rows[u0 + u];
            for (int64_t p = exclude->begin(er); p < exclude->end(er); ++p)
              s.excluded[exclude->indices[p]] |= static_cast<uint16_t>(1u << u);
          }
        }
        for (int64_t p0 = 0; p0 < n_positions; p0 += kItemTile) {
          const int64_t p1 = std::min(n_positions, p0 + kItemTile);
          const int64_t width = p1 - p0;
          score_tile(user_rows, n_users, V.n_cols, items.vt.data(), items.ld, item_bias ? items.bias.data() : nullptr,
                     p0, p1, s.tile.data(), kItemTile);
          for (int u = 0; u < n_users; ++u) {
            TopNHeap& heap = s.heaps[u];
            const float* row = s.tile.data() + u * kItemTile;
            const uint16_t bit = static_cast<uint16_t>(1u << u);
            for (int64_t j = 0; j < width; ++j) {
              const float v = row[j];
              if (heap.full() && v < heap.threshold()) continue;
              const int64_t item = candidates ? candidates[p0 + j] : p0 + j;
              if (exclude && (s.excluded[item] & bit)) continue;
              heap.push(static_cast<int32_t>(item), v);
            }
          }
        }
        for (int u = 0; u < n_users; ++u) {
          s.heaps[u].write(out_items + (u0 + u) * n, out_scores + (u0 + u) * n);
          if (exclude) {
            const int32_t er = exclude_rows[u0 + u];
            for (int64_t p = exclude->begin(er); p < exclude->end(er); ++p) s.excluded[exclude->indices[p]] = 0;
          }
        }
      });
}

}  // namespace crossrec
