package com.example.ledger;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Collectors;

/** Double-entry ledger: accounts, balanced transactions and simple reports. */
public final class LedgerService {

    public enum AccountType { ASSET, LIABILITY, EQUITY, INCOME, EXPENSE }

    public static final class Account {
        private final String id;
        private final String name;
        private final AccountType type;
        private BigDecimal balance = BigDecimal.ZERO;

        public Account(String id, String name, AccountType type) {
            this.id = Objects.requireNonNull(id);
            this.name = Objects.requireNonNull(name);
            this.type = Objects.requireNonNull(type);
        }

        public String getId() {
            return id;
        }

        public String getName() {
            return name;
        }

        public AccountType getType() {
            return type;
        }

        public BigDecimal getBalance() {
            return balance;
        }

        void apply(BigDecimal amount) {
            balance = balance.add(amount);
        }
    }

    public record Entry(String accountId, BigDecimal amount) {
        public Entry {
            Objects.requireNonNull(accountId);
            Objects.requireNonNull(amount);
        }
    }

    public record Transaction(String id, Instant at, String memo, List<Entry> entries) {
        public BigDecimal total() {
            return entries.stream().map(Entry::amount).reduce(BigDecimal.ZERO, BigDecimal::add);
        }
    }

    public static class LedgerException extends RuntimeException {
        public LedgerException(String message) {
            super(message);
        }
    }

    private final Map<String, Account> accounts = new HashMap<>();
    private final List<Transaction> journal = new ArrayList<>();
    private long nextId = 1;

    public Account open(String id, String name, AccountType type) {
        if (accounts.containsKey(id)) {
            throw new LedgerException("account already exists: " + id);
        }
        Account account = new Account(id, name, type);
        accounts.put(id, account);
        return account;
    }

    public Optional<Account> find(String id) {
        return Optional.ofNullable(accounts.get(id));
    }

    public Transaction post(String memo, List<Entry> entries) {
        if (entries.size() < 2) {
            throw new LedgerException("a transaction needs at least two entries");
        }
        for (Entry entry : entries) {
            if (!accounts.containsKey(entry.accountId())) {
                throw new LedgerException("unknown account: " + entry.accountId());
            }
        }
        BigDecimal sum = entries.stream()
                .map(Entry::amount)
                .reduce(BigDecimal.ZERO, BigDecimal::add);
        if (sum.compareTo(BigDecimal.ZERO) != 0) {
            throw new LedgerException("entries do not balance: " + sum);
        }
        for (Entry entry : entries) {
            accounts.get(entry.accountId()).apply(entry.amount());
        }
        Transaction tx = new Transaction("tx-" + nextId++, Instant.now(), memo, List.copyOf(entries));
        journal.add(tx);
        return tx;
    }

    public Transaction transfer(String from, String to, BigDecimal amount, String memo) {
        if (amount.signum() <= 0) {
            throw new LedgerException("amount must be positive");
        }
        return post(memo, List.of(new Entry(from, amount.negate()), new Entry(to, amount)));
    }

    public List<Transaction> history(String accountId) {
        return journal.stream()
                .filter(tx -> tx.entries().stream().anyMatch(e -> e.accountId().equals(accountId)))
                .collect(Collectors.toUnmodifiableList());
    }

    public Map<AccountType, BigDecimal> totalsByType() {
        Map<AccountType, BigDecimal> totals = new HashMap<>();
        for (Account account : accounts.values()) {
            totals.merge(account.getType(), account.getBalance(), BigDecimal::add);
        }
        return Collections.unmodifiableMap(totals);
    }

    public BigDecimal netIncome() {
        Map<AccountType, BigDecimal> totals = totalsByType();
        BigDecimal income = totals.getOrDefault(AccountType.INCOME, BigDecimal.ZERO);
        BigDecimal expense = totals.getOrDefault(AccountType.EXPENSE, BigDecimal.ZERO);
        return income.negate().subtract(expense).setScale(2, RoundingMode.HALF_EVEN);
    }

    public String trialBalance() {
        StringBuilder out = new StringBuilder();
        List<Account> sorted = new ArrayList<>(accounts.values());
        sorted.sort((a, b) -> a.getId().compareTo(b.getId()));
        BigDecimal debit = BigDecimal.ZERO;
        BigDecimal credit = BigDecimal.ZERO;
        for (Account account : sorted) {
            BigDecimal balance = account.getBalance();
            if (balance.signum() >= 0) {
                debit = debit.add(balance);
            } else {
                credit = credit.add(balance.negate());
            }
            out.append(String.format("%-12s %-24s %12s%n", account.getId(), account.getName(), balance));
        }
        out.append(String.format("%-37s %12s %12s%n", "total", debit, credit));
        return out.toString();
    }

    public static void main(String[] args) {
        LedgerService ledger = new LedgerService();
        ledger.open("cash", "Cash", AccountType.ASSET);
        ledger.open("sales", "Sales", AccountType.INCOME);
        ledger.open("rent", "Rent", AccountType.EXPENSE);
        ledger.transfer("sales", "cash", new BigDecimal("1200.00"), "invoice 17");
        ledger.transfer("cash", "rent", new BigDecimal("450.00"), "march rent");
        System.out.print(ledger.trialBalance());
        System.out.println("net income: " + ledger.netIncome());
    }
}
