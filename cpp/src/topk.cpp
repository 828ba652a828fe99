#include "crossrec/topk.hpp"

#include <cstdint>
#include <vector>

#include "crossrec/dense.hpp"
#include "crossrec/parallel.hpp"

namespace crossrec {

void topn_from_scores(const DenseView& scores, const CsrView* exclude, const int32_t* exclude_rows,
                      const int32_t* candidates, int64_t n_candidates, int n, int32_t* out_items,
                      float* out_scores, int n_threads) {
  const int64_t n_items = scores.n_cols;
  const int64_t n_positions = candidates ? n_candidates : n_items;
  struct Scratch {
    TopNHeap heap;
    std::vector<int64_t> stamp;  // stamp[item] == row + 1 marks an excluded item for this row
  };
  parallel_for(
      scores.n_rows, n_threads, 16, [&] { return Scratch{TopNHeap(n), std::vector<int64_t>(exclude ? n_items : 0, 0)}; },
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

constexpr int kUserBlock = 16;     // users scored together against one tile of items
constexpr int64_t kItemTile = 1024;  // items whose factors stay in cache for a user block

// scores[u * tile + j] = dot(U[u], V[item_j]) (+ bias) for the users of one block.
CROSSREC_TARGET_CLONES
void score_tile(const float* const* user_rows, int n_users, const DenseView& V, const float* item_bias,
                const int32_t* candidates, int64_t p0, int64_t p1, float* out) {
  const int64_t f = V.n_cols;
  const int64_t width = p1 - p0;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t item = candidates ? candidates[p] : p;
    const float* v = V.row(item);
    const float b = item_bias ? item_bias[item] : 0.0f;
    for (int u = 0; u < n_users; ++u) {
      float s = 0.0f;
      const float* x = user_rows[u];
#pragma omp simd reduction(+ : s)
      for (int64_t k = 0; k < f; ++k) s += x[k] * v[k];
      out[u * width + (p - p0)] = s + b;
    }
  }
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
    std::vector<float> tile;
  };
  static_assert(kUserBlock <= 16, "excluded bits are a uint16_t");
  parallel_for(
      n_blocks, n_threads, 1,
      [&] {
        return Scratch{std::vector<TopNHeap>(kUserBlock, TopNHeap(n)),
                       std::vector<uint16_t>(exclude ? n_items : 0, 0),
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
          score_tile(user_rows, n_users, V, item_bias, candidates, p0, p1, s.tile.data());
          for (int u = 0; u < n_users; ++u) {
            TopNHeap& heap = s.heaps[u];
            const float* row = s.tile.data() + u * width;
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
