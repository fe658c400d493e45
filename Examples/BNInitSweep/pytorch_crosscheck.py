# Cross-check of bn-init-sweep in PyTorch (not needed to run the example):
# 1 seed, 4 scales, final eval-mode accuracies. Usage: python pytorch_crosscheck.py [bn_eps]
import gzip, numpy as np, torch, torch.nn as nn, sys
torch.set_num_threads(1)
d = np.loadtxt(gzip.open('data/mnist_5k.csv.gz'), delimiter=',')
X = torch.tensor(d[:, :784] / 255., dtype=torch.float32); y = torch.tensor(d[:, 784], dtype=torch.long)
idx = np.concatenate([np.where(y.numpy() == c)[0][:100] for c in range(10)])
mask = np.ones(len(y), bool); mask[idx] = False
Xt, yt, Xh, yh = X[idx], y[idx], X[mask], y[mask]
eps = float(sys.argv[1]) if len(sys.argv) > 1 else 1e-5
for w in np.logspace(0, -4, 4):
    res = []
    for bn in [True, False]:
        torch.manual_seed(0); g = np.random.default_rng(0)
        layers = []; width = 784
        for h in [100]*5:
            l = nn.Linear(width, h); nn.init.normal_(l.weight, std=w); nn.init.zeros_(l.bias); layers.append(l)
            if bn: layers.append(nn.BatchNorm1d(h, eps=eps))
            layers.append(nn.ReLU()); width = h
        l = nn.Linear(width, 10); nn.init.normal_(l.weight, std=w); nn.init.zeros_(l.bias); layers.append(l)
        m = nn.Sequential(*layers); opt = torch.optim.SGD(m.parameters(), lr=0.01)
        for e in range(20):
            m.train()
            for s in range(10):
                b = g.integers(0, 1000, 100)
                loss = nn.functional.cross_entropy(m(Xt[b]), yt[b]); opt.zero_grad(); loss.backward(); opt.step()
        m.eval()
        with torch.no_grad():
            res.append(((m(Xt).argmax(1) == yt).float().mean().item(), (m(Xh).argmax(1) == yh).float().mean().item()))
    print(f"w={w:.3g} bn train {res[0][0]:.3f} held {res[0][1]:.3f} | plain train {res[1][0]:.3f} held {res[1][1]:.3f}")
