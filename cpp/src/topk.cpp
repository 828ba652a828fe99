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

// scores[u * width + j] = dot(U[u], V[item_j]) (+ bias) for the users of one block.
// The tile's item factors are first transposed into vt (f rows of stride ld), shared by the block's
// users; each user's scores are then accumulated row-wise, out += x[k] * vt[k], vectorised along
// items: no horizontal sum per (user, item) pair, and the tile is written contiguously (writing it
// column by column at a 4 KiB stride thrashed the cache sets). The sum runs over k in order, so a
// score does not depend on the tile or thread layout.
CROSSREC_TARGET_CLONES
void score_tile(const float* const* user_rows, int n_users, const DenseView& V, const float* item_bias,
                const int32_t* candidates, int64_t p0, int64_t p1, float* vt, float* out) {
  const int64_t f = V.n_cols;
  const int64_t width = p1 - p0;
  const int64_t ld = kItemTile + 16;  // vt's row stride: not a multiple of 4 KiB (cache-set aliasing)
  for (int64_t p = p0; p < p1; ++p) {
    const float* v = V.row(candidates ? candidates[p] : p);
    for (int64_t k = 0; k < f; ++k) vt[k * ld + (p - p0)] = v[k];
  }
  constexpr int64_t kChunk = 16;
  int u = 0;
#if defined(__GNUC__)
  // Register blocking: accumulators for 4 users x 16 items live in eight 8-float vector registers
  // over the whole k loop, so each load of vt feeds 4 multiply-adds (GCC/Clang vector extensions;
  // the baseline clone lowers them to SSE pairs). Other compilers take the generic loop below.
  typedef float v8 __attribute__((vector_size(32)));
  typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));  // unaligned access
  for (; u + 4 <= n_users; u += 4) {
    const float* x0 = user_rows[u];
    const float* x1 = user_rows[u + 1];
    const float* x2 = user_rows[u + 2];
    const float* x3 = user_rows[u + 3];
    int64_t j0 = 0;
    for (; j0 + kChunk <= width; j0 += kChunk) {
      v8 a0 = {}, b0 = {}, a1 = {}, b1 = {}, a2 = {}, b2 = {}, a3 = {}, b3 = {};
      for (int64_t k = 0; k < f; ++k) {
        const float* r = vt + k * ld + j0;
        const v8 lo = *reinterpret_cast<const v8u*>(r);
        const v8 hi = *reinterpret_cast<const v8u*>(r + 8);
        a0 += x0[k] * lo; b0 += x0[k] * hi;
        a1 += x1[k] * lo; b1 += x1[k] * hi;
        a2 += x2[k] * lo; b2 += x2[k] * hi;
        a3 += x3[k] * lo; b3 += x3[k] * hi;
      }
      float* o = out + u * width + j0;
      *reinterpret_cast<v8u*>(o) = a0; *reinterpret_cast<v8u*>(o + 8) = b0;
      *reinterpret_cast<v8u*>(o + width) = a1; *reinterpret_cast<v8u*>(o + width + 8) = b1;
      *reinterpret_cast<v8u*>(o + 2 * width) = a2; *reinterpret_cast<v8u*>(o + 2 * width + 8) = b2;
      *reinterpret_cast<v8u*>(o + 3 * width) = a3; *reinterpret_cast<v8u*>(o + 3 * width + 8) = b3;
    }
    for (; j0 < width; ++j0) {  // the tile's last items (fewer than kChunk)
      float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
      for (int64_t k = 0; k < f; ++k) {
        const float r = vt[k * ld + j0];
        s0 += x0[k] * r; s1 += x1[k] * r; s2 += x2[k] * r; s3 += x3[k] * r;
      }
      out[u * width + j0] = s0; out[(u + 1) * width + j0] = s1;
      out[(u + 2) * width + j0] = s2; out[(u + 3) * width + j0] = s3;
    }
  }
#endif
  for (; u < n_users; ++u) {  // the block's last users (fewer than 4)
    const float* x = user_rows[u];
    for (int64_t j0 = 0; j0 < width; j0 += kChunk) {
      const int64_t w = std::min(kChunk, width - j0);
      float a[kChunk] = {};
      for (int64_t k = 0; k < f; ++k) {
        const float* r = vt + k * ld + j0;
        for (int64_t j = 0; j < w; ++j) a[j] += x[k] * r[j];
      }
      for (int64_t j = 0; j < w; ++j) out[u * width + j0 + j] = a[j];
    }
  }
  if (item_bias) {
    for (int v = 0; v < n_users; ++v)
      for (int64_t j = 0; j < width; ++j) out[v * width + j] += item_bias[candidates ? candidates[p0 + j] : p0 + j];
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
    std::vector<float> vt;  // the tile's item factors, transposed (f x kItemTile)
  };
  static_assert(kUserBlock <= 16, "excluded bits are a uint16_t");
  parallel_for(
      n_blocks, n_threads, 1,
      [&] {
        return Scratch{std::vector<TopNHeap>(kUserBlock, TopNHeap(n)),
                       std::vector<uint16_t>(exclude ? n_items : 0, 0),
                       std::vector<float>(kUserBlock * kItemTile),
                       std::vector<float>(static_cast<size_t>(V.n_cols) * (kItemTile + 16))};
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
          score_tile(user_rows, n_users, V, item_bias, candidates, p0, p1, s.vt.data(), s.tile.data());
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
