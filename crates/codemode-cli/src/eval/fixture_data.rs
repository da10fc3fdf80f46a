//! What the real-server tasks' fixtures hold: files, a memory graph, commits, a database,
//! pages. Laid fresh for every task by `servers::Fixture`; the tasks' checks read them back.

/// Files laid in every fixture (paths relative to its folder).
pub const FILES: &[(&str, &str)] = &[
    (
        "docs/intro.md",
        "# Introduction\n\nWelcome to teh project. It keeps notes in Markdown.\n",
    ),
    ("docs/setup.md", "# Setup\n\nRun the installer, then restart.\n"),
    (
        "docs/faq.md",
        "# FAQ\n\nQ: Where are the notes?\nA: In the docs folder.\n",
    ),
    ("docs/old/changelog.txt", "0.9: first release\n"),
    ("draft.md", "# Quarterly plan\n\nShip the new editor.\n"),
    ("todo.txt", "water the plants\nbook the train\ncall the bank\n"),
    (
        "data/sales.csv",
        "region,amount\nnorth,120\nsouth,80\neast,200\nwest,50\n",
    ),
];

/// The knowledge graph of the memory server (its JSON-lines file).
pub const MEMORY: &str = concat!(
    r#"{"type":"entity","name":"Alice","entityType":"person","observations":["works on the billing team"]}"#,
    "\n",
    r#"{"type":"entity","name":"Acme","entityType":"company","observations":["based in Lyon"]}"#,
    "\n",
    r#"{"type":"relation","from":"Alice","to":"Acme","relationType":"works_at"}"#,
    "\n"
);

/// The repository's commits: author, file, its text, message.
pub const COMMITS: &[(&str, &str, &str, &str)] = &[
    (
        "Dana Reyes <dana@example.com>",
        "README.md",
        "# Widget\n",
        "Start the widget project",
    ),
    (
        "Omar Haddad <omar@example.com>",
        "widget.py",
        "print('widget')\n",
        "Add the widget script",
    ),
    ("Lena Fischer <lena@example.com>", "LICENSE", "MIT\n", "Add a license"),
];

/// Changes left uncommitted in the repository: `README.md` modified, `notes.txt` new.
pub const UNCOMMITTED: &[(&str, &str)] = &[
    ("README.md", "# Widget\n\nA small widget.\n"),
    ("notes.txt", "remember to tag the release\n"),
];

/// The database, laid by a Python script (`sys.argv[1]` is its path).
pub const DATABASE: &str = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript('''
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, stock INTEGER NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, product_id INTEGER NOT NULL,
                     quantity INTEGER NOT NULL, status TEXT NOT NULL);
INSERT INTO customers VALUES (1, 'Hanna Berg', 'Berlin'), (2, 'Luis Ortega', 'Madrid'),
  (3, 'Jonas Weber', 'Berlin'), (4, 'Chloe Martin', 'Paris');
INSERT INTO products VALUES (1, 'Notebook', 4.5, 120), (2, 'Fountain Pen', 32.0, 15),
  (3, 'Stapler', 9.0, 40), (4, 'Desk Chair', 149.0, 5);
INSERT INTO orders VALUES (1, 1, 2, 1, 'shipped'), (2, 2, 1, 10, 'pending'), (3, 3, 4, 1, 'pending'),
  (4, 4, 3, 2, 'pending'), (5, 1, 1, 5, 'shipped');
''')
c.commit()
"#;

/// The pages served for `fetch`: path and HTML.
pub const PAGES: &[(&str, &str)] = &[
    (
        "/release.html",
        "<html><head><title>Widget release notes</title></head><body><h1>Widget 2.4.1 is out</h1>\
         <p>Version 2.4.1 was released on 30 November 2026. It fixes the export dialog.</p></body></html>",
    ),
    (
        "/team.html",
        "<html><head><title>Team</title></head><body><h1>Our team</h1><ul><li>Priya Nair, lead</li>\
         <li>Tom Becker, design</li><li>Sara Lind, support</li></ul></body></html>",
    ),
];
