/*
** optim.c -- AdamW and the learning-rate schedule.
**
** AdamW follows torch.optim.AdamW (decoupled weight decay, applied before
** the moment update); the schedules follow Hugging Face transformers'
** get_{cosine,linear,constant}_schedule_with_warmup, so a run here and a
** PEFT run with the same settings use the same learning rate at every step.
*/
#include "train/train.h"

#include <math.h>

void lx_adamw(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2,
              float eps, float wd, long t) {
    double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
    float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    float decay = 1.0f - lr * wd;
    for (size_t i = 0; i < n; i++) {
        p[i] *= decay;
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step * m[i] / (sqrtf(v[i]) * rbc2 + eps);
    }
}

double lx_tnorm2(const float *g, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

float lexie_train_lr_at(const lexie_train_params *p, int s) {
    int total = p->total_steps > 0 ? p->total_steps : 1;
    int warm = (int)ceil((double)total * p->warmup_ratio);
    if (s < warm) return p->lr * (float)s / (float)LX_MAX(1, warm);
    double progress = (double)(s - warm) / (double)LX_MAX(1, total - warm);
    switch (p->schedule) {
    case LEXIE_LR_LINEAR:
        return p->lr * (float)LX_MAX(0.0, (double)(total - s) / (double)LX_MAX(1, total - warm));
    case LEXIE_LR_CONSTANT: return p->lr;
    default:
        return p->lr * (float)LX_MAX(0.0, 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
    }
}
